"""The engine: lifecycle, processes, probes, ports, events and the stack that runs a graph."""
