"""Local stand-ins for the cloud parts of slotwork, and operator scripts."""
