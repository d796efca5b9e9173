"""The running daemon of a loudspeaker PC: its parts (``daemon.daemon.PARTS``), one module each, started in
order and stopped in reverse."""
