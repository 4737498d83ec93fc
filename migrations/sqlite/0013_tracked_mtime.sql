-- A picked-up file's modification time (nanoseconds since the epoch), so that a file seen
-- again with the same size and time is known unchanged without reading it; and whether a
-- failure is worth trying again though the file has not changed (the store was busy or
-- unreachable, or a row named a parent that a later file brings).
ALTER TABLE imported_files ADD COLUMN mtime INTEGER;
ALTER TABLE imported_files ADD COLUMN retry INTEGER NOT NULL DEFAULT 0;
