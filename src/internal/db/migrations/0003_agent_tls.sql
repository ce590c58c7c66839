-- vcluster schema 3: agents reached over HTTPS. A container's Agent may be
-- https://HOST:PORT (plain HOST:PORT stays http); CAFile is the PEM file
-- of the certificate authorities the site's agents' certificates are
-- checked against (empty: the system's roots). Path only, like KeyFile.
-- Idempotent: every statement may run again without change.
ALTER TABLE vc_sites ADD COLUMN IF NOT EXISTS CAFile varchar(512) NOT NULL DEFAULT '' AFTER KeyFile;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (3, 'agent_tls');
