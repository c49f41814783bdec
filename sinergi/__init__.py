"""The Sinergi chassis: configuration, database, outbox, consumers and NATS shared by services."""

VERSION = "0.1.0"
