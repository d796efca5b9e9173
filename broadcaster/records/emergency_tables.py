"""The play log's tables of emergencies (daemon.emergencies): each one, and what each round sent where."""

EMERGENCY_TABLES = """
CREATE TABLE IF NOT EXISTS emergencies (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    by TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    zones TEXT NOT NULL,
    priority TEXT NOT NULL DEFAULT 'urgent',
    repeats INTEGER NOT NULL,
    every REAL NOT NULL,
    deadline REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    rounds INTEGER NOT NULL DEFAULT 0,
    next REAL NOT NULL,
    stopped_by TEXT,
    stopped REAL,
    stop_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS emergency_sends (
    emergency INTEGER NOT NULL,
    round INTEGER NOT NULL,
    zone TEXT NOT NULL,
    station TEXT,
    request INTEGER,
    command TEXT,
    sequence INTEGER,
    sent REAL NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS emergency_sends_of ON emergency_sends (emergency);
"""
