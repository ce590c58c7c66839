-- vcluster schema 7: a container's role. 'compute' takes placed guests;
-- 'frontend' is a site's physical frontend hosting that site's virtual
-- frontends (as Rocks runs a virtual cluster's frontend VM on the
-- physical frontend): placement never picks it, and at most one per site
-- (rocks add vcluster container ... role=frontend).
-- Idempotent: every statement may run again without change.

-- As 0006: information_schema picks the ALTER or DO 0.
SET @vcluster_ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE vc_containers ADD COLUMN Role enum(''compute'',''frontend'') NOT NULL DEFAULT ''compute'' AFTER State',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'vc_containers' AND COLUMN_NAME = 'Role');
PREPARE vcluster_ddl FROM @vcluster_ddl;
EXECUTE vcluster_ddl;
DEALLOCATE PREPARE vcluster_ddl;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (7, 'frontend_host');
