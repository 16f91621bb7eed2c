"""``slotwork``: the command-line client of the slotwork HTTPS API."""
