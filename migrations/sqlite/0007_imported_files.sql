-- Files `serve` picked up from `[[imports]]` folders: a file seen again with the same size
-- and hash is not imported again; one that failed is not retried until it changes.
CREATE TABLE imported_files (
    path         TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    hash         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('imported', 'failed')),
    detail       TEXT NOT NULL,
    imported_at  INTEGER NOT NULL
);
