-- One database per service: each service owns its data and shares only events (DESIGN.md).
-- Runs once, when the postgres-data volume is empty (docker-entrypoint-initdb.d).
CREATE DATABASE registry;
CREATE DATABASE referrals;
CREATE DATABASE notifications;
