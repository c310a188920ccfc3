"""The control channel of a running stack: HTTP over a Unix domain socket in its state dir
(mode 0600, nothing on TCP), served by the launcher, used by the CLI through httpx."""
