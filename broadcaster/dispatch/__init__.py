"""What every client of a station (the command line, the console, the API) asks it to do, decided once: where\na `play` goes and the rules it must keep."""
