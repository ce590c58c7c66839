-- vcluster schema 4: guests are Rocks hosts of an appliance of our own, and
-- their overlay key is a Rocks secure attribute.
-- Idempotent: every statement may run again without change.

-- The appliance and membership of compute guests, the rows `rocks add
-- appliance vcluster-guest membership='VCluster Guest' node=vcluster-guest
-- public=no` writes. The kvm and xen rolls' 'Hosted VM' has no node, so
-- Rocks builds no kickstart file for it. Ours starts the graph at the node
-- vcluster-guest, whose edge leads on to compute (graphs/default/vcluster.xml).
-- Not public: insert-ethers never offers it.
-- (MySQL 5.1 reads the table it inserts into only in the FROM clause, so
-- "not there yet" is a derived table, not a NOT EXISTS subquery.)
INSERT INTO appliances (Name, Graph, Node, OS)
  SELECT 'vcluster-guest', 'default', 'vcluster-guest', 'linux'
  FROM (SELECT COUNT(*) AS n FROM appliances WHERE Name = 'vcluster-guest') e
  WHERE e.n = 0;
INSERT INTO memberships (Name, Appliance, Distribution, Public)
  SELECT 'VCluster Guest', a.ID,
    IFNULL((SELECT MIN(d.ID) FROM distributions d WHERE d.Name = 'rocks-dist'), 1), 'no'
  FROM appliances a, (SELECT COUNT(*) AS n FROM memberships WHERE Name = 'VCluster Guest') e
  WHERE a.Name = 'vcluster-guest' AND e.n = 0;
INSERT IGNORE INTO catindex (Name, Category)
  SELECT 'vcluster-guest', c.ID FROM categories c WHERE c.Name = 'appliance';

-- The appliance attributes `rocks add appliance` sets for an appliance with
-- a node (kickstartable, and the PXE file and server dhcpd hands out), and
-- managed (`rocks run host`, `rocks sync host sec_attr` reach it), in Rocks
-- 6.2's attributes table (6.0 and 6.1 have it too, unused).
INSERT IGNORE INTO attributes (Attr, Value, Category, Catindex)
  SELECT k.Attr, k.Value, c.ID, ci.ID
  FROM categories c JOIN catindex ci ON ci.Category = c.ID AND ci.Name = 'vcluster-guest',
    (SELECT 'kickstartable' AS Attr, 'yes' AS Value
     UNION ALL SELECT 'managed', 'true'
     UNION ALL SELECT 'dhcp_filename', 'pxelinux.0') k
  WHERE c.Name = 'appliance';
INSERT IGNORE INTO attributes (Attr, Value, Category, Catindex)
  SELECT 'dhcp_nextserver', g.Value, c.ID, ci.ID
  FROM categories c JOIN catindex ci ON ci.Category = c.ID AND ci.Name = 'vcluster-guest',
    attributes g JOIN categories gc ON gc.ID = g.Category AND gc.Name = 'global'
  WHERE c.Name = 'appliance' AND g.Attr = 'Kickstart_PrivateKickstartHost';

-- Rocks 6.0 and 6.1 read appliance attributes from appliance_attributes
-- (Appliance, Attr, Value; no key), which 6.2 no longer has:
-- information_schema picks the INSERT or DO 0, run as a prepared statement.
SET @vcluster_dml = (SELECT IF(COUNT(*) = 0, 'DO 0',
    'INSERT INTO appliance_attributes (Appliance, Attr, Value)
      SELECT a.ID, k.Attr, k.Value
      FROM appliances a
        JOIN (SELECT ''kickstartable'' AS Attr, ''yes'' AS Value
          UNION ALL SELECT ''managed'', ''true''
          UNION ALL SELECT ''dhcp_filename'', ''pxelinux.0''
          UNION ALL SELECT ''dhcp_nextserver'', g.Value FROM global_attributes g
            WHERE g.Attr = ''Kickstart_PrivateKickstartHost'') k
        LEFT JOIN appliance_attributes x ON x.Appliance = a.ID AND x.Attr = k.Attr
      WHERE a.Name = ''vcluster-guest'' AND x.Attr IS NULL')
  FROM information_schema.TABLES
  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'appliance_attributes');
PREPARE vcluster_dml FROM @vcluster_dml;
EXECUTE vcluster_dml;
DEALLOCATE PREPARE vcluster_dml;

-- Compute guests made before schema 4 were 'Hosted VM'.
UPDATE nodes n JOIN vc_vms v ON v.Node = n.ID AND v.Role = 'compute',
    memberships m
  SET n.Membership = m.ID
  WHERE m.Name = 'VCluster Guest';

-- The overlay key leaves the attributes table (and the vattributes view),
-- which rocks-db-perms lets every local user read, for Rocks' secure
-- attributes, which it never grants: one vcluster_key per guest, delivered
-- by `rocks sync host sec_attr` and the vcluster_key sec_attr plugin.
INSERT INTO sec_node_attributes (Node, Attr, Value, Enc)
  SELECT v.Node, 'vcluster_key', o.KeyHex, NULL
  FROM vc_vms v JOIN vc_overlays o ON o.Cluster = v.Cluster
    LEFT JOIN sec_node_attributes s ON s.Node = v.Node AND s.Attr = 'vcluster_key'
  WHERE o.KeyHex <> '' AND s.Node IS NULL;
DELETE a FROM attributes a JOIN categories c ON c.ID = a.Category
  WHERE c.Name = 'host' AND a.Attr = 'vcluster_key';
ALTER TABLE vc_overlays MODIFY KeyHex char(64) NOT NULL DEFAULT '';
UPDATE vc_overlays SET KeyHex = '' WHERE KeyHex <> '';

INSERT IGNORE INTO vcluster_schema (Version, Name) VALUES (4, 'guests');
