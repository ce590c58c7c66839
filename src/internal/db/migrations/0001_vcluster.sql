-- vcluster schema 1: sites, containers, load reports, virtual clusters,
-- overlays and guests. A guest is also a Rocks node (nodes, networks,
-- vm_nodes, vm_disks rows, host attributes); vc_vms adds what Rocks lacks.
-- Idempotent: every statement may run again without change.

CREATE TABLE IF NOT EXISTS vcluster_schema (
  Version	int(11) NOT NULL,
  Name		varchar(128) NOT NULL,
  Applied	timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (Version)
) ENGINE=InnoDB;

-- One row; `add vcluster` locks it (SELECT ... FOR UPDATE) so that
-- concurrent runs allocate names, MACs and IPs one after the other.
CREATE TABLE IF NOT EXISTS vc_lock (
  ID		int(11) NOT NULL,
  PRIMARY KEY (ID)
) ENGINE=InnoDB;
INSERT IGNORE INTO vc_lock (ID) VALUES (1);

-- A Rocks cluster taking part: its frontend and the agents' shared key.
CREATE TABLE IF NOT EXISTS vc_sites (
  ID		int(11) NOT NULL auto_increment,
  Name		varchar(64) NOT NULL,
  Frontend	varchar(255) NOT NULL,
  AgentPort	int(11) NOT NULL DEFAULT 8677,
  KeyFile	varchar(512) NOT NULL DEFAULT '',
  Home		enum('yes','no') NOT NULL DEFAULT 'no',
  PRIMARY KEY (ID),
  UNIQUE KEY vc_sites_name (Name)
) ENGINE=InnoDB;

-- A VM container at a site. Node is the Rocks nodes.ID for a container of
-- the home site when it is in this database; NULL for remote containers.
CREATE TABLE IF NOT EXISTS vc_containers (
  ID		int(11) NOT NULL auto_increment,
  Site		int(11) NOT NULL,
  Host		varchar(128) NOT NULL,
  Node		int(11) DEFAULT NULL,
  Agent		varchar(255) NOT NULL,
  CPUs		int(11) NOT NULL DEFAULT 0,
  Mem		int(11) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID),
  UNIQUE KEY vc_containers_host (Site, Host),
  FOREIGN KEY (Site) REFERENCES vc_sites(ID) ON DELETE CASCADE
) ENGINE=InnoDB;

-- The latest load report per container (written by the monitor / sync).
-- Load is the 1-minute load average, FreeMem MiB, Reported when measured.
CREATE TABLE IF NOT EXISTS vc_load (
  Container	int(11) NOT NULL,
  CPUs		int(11) NOT NULL DEFAULT 0,
  Load1		double NOT NULL DEFAULT 0,
  FreeMem	int(11) NOT NULL DEFAULT 0,
  TotalMem	int(11) NOT NULL DEFAULT 0,
  Reported	datetime NOT NULL,
  PRIMARY KEY (Container),
  FOREIGN KEY (Container) REFERENCES vc_containers(ID) ON DELETE CASCADE
) ENGINE=InnoDB;

-- A virtual cluster. Frontend is the nodes.ID of its virtual frontend
-- (NULL with frontend=no); Site is the home site.
CREATE TABLE IF NOT EXISTS vc_clusters (
  ID		int(11) NOT NULL auto_increment,
  Name		varchar(64) NOT NULL,
  Site		int(11) NOT NULL,
  Frontend	int(11) DEFAULT NULL,
  Policy	enum('spread','pack') NOT NULL DEFAULT 'spread',
  Created	datetime NOT NULL,
  PRIMARY KEY (ID),
  UNIQUE KEY vc_clusters_name (Name),
  FOREIGN KEY (Site) REFERENCES vc_sites(ID)
) ENGINE=InnoDB;

-- The N2N overlay of a virtual cluster. KeyHex is the community key
-- (64 hex); it is also the shadow host attribute vcluster_key.
CREATE TABLE IF NOT EXISTS vc_overlays (
  Cluster	int(11) NOT NULL,
  Community	varchar(64) NOT NULL,
  KeyHex	char(64) NOT NULL,
  Supernodes	varchar(512) NOT NULL,
  Subnet	varchar(18) NOT NULL,
  Protocol	enum('native','v1') NOT NULL DEFAULT 'native',
  MTU		int(11) NOT NULL DEFAULT 1400,
  PRIMARY KEY (Cluster),
  UNIQUE KEY vc_overlays_community (Community),
  FOREIGN KEY (Cluster) REFERENCES vc_clusters(ID) ON DELETE CASCADE
) ENGINE=InnoDB;

-- A guest of a virtual cluster; Node is its Rocks nodes.ID. Container is
-- where it should run (NULL: the virtual frontend on its site's frontend).
-- State is the desired state the controller converges to.
CREATE TABLE IF NOT EXISTS vc_vms (
  Node		int(11) NOT NULL,
  Cluster	int(11) NOT NULL,
  Name		varchar(128) NOT NULL,
  Role		enum('frontend','compute') NOT NULL,
  Idx		int(11) NOT NULL,
  Site		int(11) NOT NULL,
  Container	int(11) DEFAULT NULL,
  MAC		varchar(17) NOT NULL,
  PublicMAC	varchar(17) DEFAULT NULL,
  IP		varchar(15) NOT NULL,
  CPUs		int(11) NOT NULL,
  Mem		int(11) NOT NULL,
  Disk		int(11) NOT NULL,
  State		enum('on','off') NOT NULL DEFAULT 'on',
  Created	datetime NOT NULL,
  PRIMARY KEY (Node),
  UNIQUE KEY vc_vms_name (Name),
  UNIQUE KEY vc_vms_mac (MAC),
  UNIQUE KEY vc_vms_pubmac (PublicMAC),
  UNIQUE KEY vc_vms_ip (Cluster, IP),
  UNIQUE KEY vc_vms_idx (Cluster, Role, Idx),
  KEY vc_vms_container (Container),
  FOREIGN KEY (Cluster) REFERENCES vc_clusters(ID) ON DELETE CASCADE,
  FOREIGN KEY (Site) REFERENCES vc_sites(ID),
  FOREIGN KEY (Container) REFERENCES vc_containers(ID)
) ENGINE=InnoDB;

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (1, 'vcluster');
