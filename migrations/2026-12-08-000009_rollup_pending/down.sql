-- The previous version folds in the insert statement and never reads this table: rows still
-- pending would be missing from its rollups, so refuse until the folder has emptied it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM rollup_pending) THEN
        RAISE EXCEPTION 'rollup_pending is not empty: let the rollup folder finish, then migrate down';
    END IF;
END $$;
DROP TABLE rollup_pending;
