# vcluster roll: the shared code of the Rocks command shims.
#
# Every rocks/commands/<verb>/vcluster[/<noun>]/__init__.py of this roll is
# generated from rocks-vcluster's command registry: a Command class below
# with the command's help as its docstring (<arg>, <param>, <example>), on
# Command below, or on UserCommand where any user may run it (MustBeRoot =
# 0, as Rocks' list verb has it). Rocks' `rocks` driver imports the module, builds
# Command(database) and calls runWrapper(name, args).
#
# On a frontend, Command is a subclass of Rocks' own rocks.commands.Command:
# its runWrapper writes the syslog audit line, answers `help` (format=...)
# and usage() from the docstring, and refuses non-root callers of root-only
# commands; run() then execs /opt/rocks/bin/rocks-vcluster (or
# $VCLUSTER_CMD) with the same words, arguments and params, so parsing,
# output and errors come from the binary.
#
# Where Rocks' base class is missing (a tree without Rocks), a stand-in with
# the same interface does the same: the same audit line (ident
# rockscommand, facility local0, as Rocks' driver opens syslog), root check,
# usage() from the docstring; help is the binary's, which renders the same
# docstring the same way. Runs under Python 2.6+ and 3.
import os
import pwd
import re
import sys
import syslog
import xml.sax
import xml.sax.handler

RollName = "vcluster"

BINARY = "/opt/rocks/bin/rocks-vcluster"

# Rocks' runWrapper: an argument is a key=value param when this matches.
_PARAM = re.compile(r"^[a-zA-z0-9\-_+]+=")

try:
	import rocks.commands
	_RocksCommand = rocks.commands.Command
except (ImportError, AttributeError):
	_RocksCommand = None


def _words(obj):
	# rocks.commands.add.vcluster.site -> ['add', 'vcluster', 'site']
	parts = obj.__class__.__module__.split(".")
	return parts[parts.index("commands") + 1:]


def _exec(obj, args):
	cmd = os.environ.get("VCLUSTER_CMD") or BINARY
	argv = [cmd] + _words(obj) + [str(a) for a in args]
	sys.stdout.flush()
	sys.stderr.flush()
	try:
		os.execv(argv[0], argv)
	except OSError:
		e = sys.exc_info()[1]
		sys.stderr.write("error - cannot run %s: %s\n" % (argv[0], e.strerror))
		sys.exit(1)


def _flatten(params, args):
	# Rocks' run(params, args) back into a command line; @ROCKSPARAM0 is
	# Rocks' copy of the first param.
	flat = [str(a) for a in args]
	for k in sorted(params or {}):
		if params[k] is not None and not k.startswith("@"):
			flat.append("%s=%s" % (k, params[k]))
	return flat


class _Synopsis(xml.sax.handler.ContentHandler):
	"""Collects <arg> and <param> as Rocks' DocStringHandler keys them."""

	def __init__(self):
		xml.sax.handler.ContentHandler.__init__(self)
		self.args = []
		self.params = []

	def startElement(self, name, attrs):
		if name not in ("arg", "param"):
			return
		try:
			optional = int(attrs.get("optional"))
		except (TypeError, ValueError):
			optional = int(name == "param")
		try:
			repeat = int(attrs.get("repeat"))
		except (TypeError, ValueError):
			repeat = 0
		key = (attrs.get("name"), attrs.get("type"), optional, repeat)
		if name == "arg":
			self.args.append(key)
		else:
			self.params.append(key)

	def text(self):
		out = []
		self.params.sort()
		for (name, type, optional, repeat) in self.args:
			out.append(self.word(name, optional, repeat))
		for (name, type, optional, repeat) in self.params:
			out.append(self.word("%s=%s" % (name, type), optional, repeat))
		return " ".join(out)

	def word(self, s, optional, repeat):
		if optional:
			s = "[%s]" % s
		else:
			s = "{%s}" % s
		if repeat:
			s += "..."
		return s


class _StandIn(object):
	"""Rocks' Command interface, for a tree without Rocks' base class."""

	MustBeRoot = 1

	def __init__(self, database):
		self.db = database
		self.text = ""

	def isRootUser(self):
		return os.geteuid() == 0

	def isApacheUser(self):
		try:
			return os.geteuid() == pwd.getpwnam("apache")[2]
		except KeyError:
			return False

	def getText(self):
		return self.text

	def usage(self):
		if not self.__doc__:
			return "-- missing doc string --"
		handler = _Synopsis()
		try:
			xml.sax.parseString(("<docstring>%s</docstring>" % self.__doc__).encode("utf-8"), handler)
		except xml.sax.SAXException:
			return "-- invalid doc string --"
		return handler.text()

	def help(self, command, flags={}):
		args = ["help"]
		if "format" in flags:
			args.append("format=%s" % flags["format"])
		_exec(self, args)

	def runWrapper(self, name, args):
		if not name:
			name = " ".join(_words(self))
		username = pwd.getpwuid(os.geteuid())[0]
		command = name
		if args:
			command = "%s %s" % (name, " ".join(args))
		syslog.openlog("rockscommand", syslog.LOG_PID, syslog.LOG_LOCAL0)
		syslog.syslog(syslog.LOG_INFO, 'user %s called "%s"' % (username, command))
		positional = [a for a in args if not _PARAM.match(a)]
		if positional and positional[0] == "help":
			_exec(self, args)
		if self.MustBeRoot and not (self.isRootUser() or self.isApacheUser()):
			sys.stderr.write('error - command "%s" requires root\n' % name)
			sys.exit(1)
		# The command line as typed: the binary keeps its order and sees
		# a param given twice.
		_exec(self, args)

	def run(self, params, args):
		_exec(self, _flatten(params, args))


if _RocksCommand is not None:
	class Command(_RocksCommand):
		"""Runs `rocks-vcluster <verb> <nouns...> ARGS` under Rocks' base class."""

		MustBeRoot = 1

		def run(self, params, args):
			_exec(self, _flatten(params, args))
else:
	class Command(_StandIn):
		"""Runs `rocks-vcluster <verb> <nouns...> ARGS`."""


class UserCommand(Command):
	"""Command for the commands that any user may run."""

	MustBeRoot = 0
