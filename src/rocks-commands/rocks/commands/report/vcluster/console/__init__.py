# `rocks report vcluster console` of the vcluster roll, generated from its command registry (TestShimsGenerated -update); do not edit. See vcluster_exec.py.
import rocks.commands.vcluster_exec as vcluster_exec

RollName = "vcluster"


class Command(vcluster_exec.Command):
	"""
	Print the last lines of a guest's serial console, read through the agent
	of the container the database places it on (guest.console: read-only,
	signed like every call, so only who holds the site key may read it). On
	KVM/QEMU the agent keeps each guest's serial output in a bounded file
	(console_dir, console_max_bytes in agent.toml). Nothing is printed for a
	guest that has written nothing yet. Use it to see why a guest does not
	come up (its kickstart, its network, its overlay edge).

	<arg type='string' name='GUEST' optional='0'>
	The guest's host name (e.g. vm-vc1-3).
	</arg>

	<param type='LINES' name='lines' optional='1'>
	How many of the last lines (1 to 1000). Default: 50.
	</param>

	<param type='TIMEOUT' name='timeout' optional='1'>
	Seconds to wait for the agent. Default: 10.
	</param>

	<example cmd='report vcluster console vm-vc1-3'>
	The last 50 lines vm-vc1-3 wrote on its console.
	</example>

	<example cmd='report vcluster console vm-vc1-3 lines=200'>
	</example>
	"""
