"""`stack mcp`: a Model Context Protocol server on stdio, for coding agents, built on the
official `mcp` SDK over the control protocol (RemoteControl), like every other front door.
Nothing here is imported until `stack mcp` runs: the SDK is heavy and optional."""
