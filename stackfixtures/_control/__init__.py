"""The control channel of a running stack: HTTP over a Unix domain socket in its state dir
(mode 0600, nothing on TCP), served by the launcher (_control/server.py) and used through
the control protocol (_control/protocol.py) by the CLI, pytest and the live view."""
