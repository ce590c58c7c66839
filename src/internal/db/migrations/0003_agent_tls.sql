-- vcluster schema 3: agents reached over HTTPS. A container's Agent may be
-- https://HOST:PORT (plain HOST:PORT stays http); CAFile is the PEM file
-- of the certificate authorities the site's agents' certificates are
-- checked against (empty: the system's roots). Path only, like KeyFile.
-- Idempotent: every statement may run again without change.

-- MySQL 5.1 and 5.6 have no ADD COLUMN IF NOT EXISTS (MariaDB only) and no
-- IF statement outside stored programs, so information_schema picks the
-- statement (the ALTER, or DO 0 once the column is there) and it runs as a
-- prepared statement. Plain SQL, so the mysql client of the node file's
-- <post> runs it as it is; one session, so @vcluster_ddl holds between.
SET @vcluster_ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE vc_sites ADD COLUMN CAFile varchar(512) NOT NULL DEFAULT '''' AFTER KeyFile',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'vc_sites' AND COLUMN_NAME = 'CAFile');
PREPARE vcluster_ddl FROM @vcluster_ddl;
EXECUTE vcluster_ddl;
DEALLOCATE PREPARE vcluster_ddl;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (3, 'agent_tls');
