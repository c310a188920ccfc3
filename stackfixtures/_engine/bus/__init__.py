"""Lifecycle events published on a message bus (`[stack] events = { nats = ... }`): the target
(`_define/bus.py`), the bounded queue between the event log and the bus (`outbox.py`), and the one
task that connects and publishes them in order (`publisher.py`). The engine knows which
service the target's template names, never its kind."""
