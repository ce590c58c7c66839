# vcluster roll: the shared code of the Rocks command shims.
#
# Every rocks/commands/<verb>/vcluster[/<noun>]/__init__.py of this roll is
# a few lines that subclass Command below. Rocks' `rocks` driver imports the
# module, builds Command(database) and calls runWrapper(name, args); the
# shim execs the Go binary /opt/rocks/bin/rocks-vcluster (or $VCLUSTER_CMD)
# with the same verb, nouns and arguments, so help text, parsing, output and
# errors all come from the binary. Runs under Python 2.6+ and 3.
import os
import sys

RollName = "vcluster"

BINARY = "/opt/rocks/bin/rocks-vcluster"


class Command(object):
	"""Runs `rocks-vcluster <verb> <nouns...> ARGS`."""

	MustBeRoot = 0

	def __init__(self, database=None):
		self.db = database

	def words(self):
		# rocks.commands.add.vcluster.site -> ['add', 'vcluster', 'site']
		parts = self.__class__.__module__.split(".")
		return parts[parts.index("commands") + 1:]

	def argv(self, args):
		cmd = os.environ.get("VCLUSTER_CMD") or BINARY
		return [cmd] + self.words() + [str(a) for a in args]

	def runWrapper(self, name, args):
		argv = self.argv(args)
		sys.stdout.flush()
		sys.stderr.flush()
		try:
			os.execv(argv[0], argv)
		except OSError:
			e = sys.exc_info()[1]
			sys.stderr.write("error - cannot run %s: %s\n" % (argv[0], e.strerror))
			sys.exit(1)

	def run(self, params, args):
		# Rocks calls run() with parsed key=value params and positional args.
		flat = list(args)
		for k in sorted(params or {}):
			if params[k] is not None:
				flat.append("%s=%s" % (k, params[k]))
		self.runWrapper(None, flat)

	def usage(self):
		return " ".join(self.words())
