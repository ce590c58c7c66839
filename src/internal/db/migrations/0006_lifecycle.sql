-- vcluster schema 6: the lifecycle of containers and guests.
-- vc_containers.State: 'active' takes new guests; 'drain' takes none and
-- its guests are moved away (rocks sync vcluster, vclusterd); 'disabled'
-- takes none and its guests stay. vc_vms.Reserve: 'yes' keeps a stopped
-- guest's memory reserved on its container for placement (rocks stop
-- vcluster ... reserve=yes); a running guest always counts.
-- Idempotent: every statement may run again without change.

-- As 0003: MySQL 5.1 and 5.6 have no ADD COLUMN IF NOT EXISTS, so
-- information_schema picks the ALTER or DO 0, run as a prepared statement.
SET @vcluster_ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE vc_containers ADD COLUMN State enum(''active'',''drain'',''disabled'') NOT NULL DEFAULT ''active'' AFTER Mem',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'vc_containers' AND COLUMN_NAME = 'State');
PREPARE vcluster_ddl FROM @vcluster_ddl;
EXECUTE vcluster_ddl;
DEALLOCATE PREPARE vcluster_ddl;

SET @vcluster_ddl = (SELECT IF(COUNT(*) = 0,
    'ALTER TABLE vc_vms ADD COLUMN Reserve enum(''no'',''yes'') NOT NULL DEFAULT ''no'' AFTER State',
    'DO 0')
  FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'vc_vms' AND COLUMN_NAME = 'Reserve');
PREPARE vcluster_ddl FROM @vcluster_ddl;
EXECUTE vcluster_ddl;
DEALLOCATE PREPARE vcluster_ddl;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (6, 'lifecycle');
