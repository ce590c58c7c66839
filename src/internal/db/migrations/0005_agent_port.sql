-- vcluster schema 5: vc_sites.AgentPort's column default is the agent's
-- port, 8678 (agentapi.DefaultPort), not 8677, where the kvm and xen rolls
-- run airboss on a frontend. Every insert names the port, so this changes
-- no row; it keeps the schema from naming the wrong port.
-- Idempotent: setting the same default again changes nothing.
ALTER TABLE vc_sites ALTER COLUMN AgentPort SET DEFAULT 8678;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (5, 'agent_port');
