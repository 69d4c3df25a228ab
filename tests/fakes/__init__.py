"""In-process and loopback fakes of the outside services the tests talk to."""
