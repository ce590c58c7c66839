# `rocks remove vcluster` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Remove a virtual cluster from the database: its guests' Rocks nodes
	(nodes, networks, vm_nodes, vm_disks, host attributes, the overlay key
	in sec_node_attributes), its overlay and its vc_* rows, in one
	transaction. It does not touch running machines.

	<arg type='string' name='NAME' optional='0'>
	The virtual cluster.
	</arg>

	<example cmd='remove vcluster vc1'>
	</example>
	"""
