-- How a column is analysed when a user changed its type after data was stored (`dtype:` in a monitors
-- file): '' = as stored (`dtype`). Only numeric <-> categorical: the stored values are read as the
-- other type (numbers as category text, text as numbers, non-numbers missing); storage never changes.
ALTER TABLE columns ADD COLUMN analysed_as TEXT NOT NULL DEFAULT '';
