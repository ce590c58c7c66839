-- vcluster schema 2: what the VM controller (rocks sync vcluster) and the
-- monitor (vclusterd) need to keep guests running exactly once.
-- Idempotent: every statement may run again without change.

-- Health of each VM container as vclusterd sees it. A container is 'dead'
-- after dead_after missed heartbeats; its guests are then relocated, and
-- when it answers again its stale copies are destroyed before it is
-- 'alive' again (docs/controller.md, the fencing rule).
CREATE TABLE IF NOT EXISTS vc_health (
  Container	int(11) NOT NULL,
  Status	enum('alive','dead') NOT NULL DEFAULT 'alive',
  Missed	int(11) NOT NULL DEFAULT 0,
  LastSeen	datetime DEFAULT NULL,
  DeadSince	datetime DEFAULT NULL,
  OverSince	datetime DEFAULT NULL,
  LastError	varchar(255) NOT NULL DEFAULT '',
  PRIMARY KEY (Container),
  FOREIGN KEY (Container) REFERENCES vc_containers(ID) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Every container on which the controller may have defined a copy of a
-- guest. A row is written before guest.define and deleted only once the
-- container confirmed the copy gone, so a crash in between never leaves a
-- copy nobody knows about. Cluster is the name (the cluster row may be
-- removed while copies still run).
CREATE TABLE IF NOT EXISTS vc_copies (
  Name		varchar(128) NOT NULL,
  Container	int(11) NOT NULL,
  Cluster	varchar(64) NOT NULL,
  Defined	datetime NOT NULL,
  PRIMARY KEY (Name, Container),
  KEY vc_copies_container (Container),
  FOREIGN KEY (Container) REFERENCES vc_containers(ID) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Relocations, newest last: by vclusterd (dead, overload) or an
-- administrator (rocks move vcluster host).
CREATE TABLE IF NOT EXISTS vc_moves (
  ID		int(11) NOT NULL auto_increment,
  Name		varchar(128) NOT NULL,
  FromHost	varchar(128) NOT NULL,
  ToHost	varchar(128) NOT NULL,
  Reason	varchar(255) NOT NULL,
  Moved		datetime NOT NULL,
  PRIMARY KEY (ID),
  KEY vc_moves_name (Name)
) ENGINE=InnoDB;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (2, 'controller');
