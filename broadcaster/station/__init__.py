"""The loudspeaker PC: the schedule, the play log, the zone workers and the daemon that wires them
as parts; checks and reports read the same model."""
