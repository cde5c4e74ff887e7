"""A weak-link test bed: a hall in a network namespace of its own, joined to the machine's
namespace (where the county runs) by a veth pair, shaped with `tc tbf` (rate) and dropping
packets with an nftables `numgen random` rule (loss). Real TCP over a bad link.

Needs root. Everything it makes it removes again in close(), also after a failure.

    with NetBed(rate_kbit=256, loss_pct=5) as bed:
        bed.run(["build/hall-agent", "-c", ini, "once"])    # runs inside the hall's namespace
        bed.county_addr                                      # the county side's address
        bed.tx_bytes()                                       # bytes the hall sent on the link
"""
import itertools
import os
import subprocess

_seq = itertools.count()


def have_root():
    return os.geteuid() == 0


def why_skipped():
    """None when the bed can be built here, else the reason in a sentence."""
    if not have_root():
        return "needs root (network namespaces, tc and nftables); CI runs as root"
    for tool in ("ip", "tc", "nft"):
        if subprocess.run(["which", tool], stdout=subprocess.DEVNULL).returncode != 0:
            return "needs the %s command" % tool
    return None


def sh(*args, check=True):
    p = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), p.stdout.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


class NetBed:
    """The hall's namespace and its link to the machine's namespace."""

    def __init__(self, rate_kbit=None, loss_pct=0, burst_bytes=None):
        n = "%d%d" % (os.getpid() % 10000, next(_seq))
        self.ns = "hallbed%s" % n
        self.host_if = "hb%sh" % n
        self.hall_if = "hb%sn" % n
        self.loss_name = "hallbed_loss_%s" % n
        # addresses of our own namespace pair (RFC 1918 space, used only inside this bed)
        octet = 1 + (os.getpid() + int(n)) % 250
        self.county_addr = "10.254.%d.1" % octet
        self.hall_addr = "10.254.%d.2" % octet
        self.rate_kbit = rate_kbit
        self.loss_pct = loss_pct
        self.burst_bytes = burst_bytes
        self.made = False

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    def _free_subnet(self):
        """Moves the bed's /30 off any 10.254.X.0/30 already on this machine (another
        process's bed, say), so that two beds never share their addresses."""
        used = sh("ip", "-o", "-4", "addr", "show", check=False)
        octet = int(self.county_addr.split(".")[2])
        for i in range(250):
            x = 1 + (octet - 1 + i) % 250
            if " 10.254.%d." % x not in used:
                self.county_addr = "10.254.%d.1" % x
                self.hall_addr = "10.254.%d.2" % x
                return

    def open(self):
        self.made = True
        self._free_subnet()
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.hall_if)
        sh("ip", "link", "set", self.hall_if, "netns", self.ns)
        sh("ip", "addr", "add", self.county_addr + "/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.ns_sh("ip", "addr", "add", self.hall_addr + "/30", "dev", self.hall_if)
        self.ns_sh("ip", "link", "set", self.hall_if, "up")
        self.ns_sh("ip", "link", "set", "lo", "up")
        self.shape(self.rate_kbit, self.loss_pct)

    def ns_sh(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, *args, check=check)

    def shape(self, rate_kbit, loss_pct):
        """Sets (or changes) the link's rate and loss, both ways."""
        self.rate_kbit = rate_kbit
        self.loss_pct = loss_pct
        for dev, in_ns in ((self.host_if, False), (self.hall_if, True)):
            run = self.ns_sh if in_ns else sh
            run("tc", "qdisc", "del", "dev", dev, "root", check=False)
            if rate_kbit:
                burst = self.burst_bytes or max(1600, rate_kbit * 1000 // 8 // 50)
                run("tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate",
                    "%dkbit" % rate_kbit, "burst", str(burst), "latency", "400ms")
        # loss in flight, both ways: each side drops at its ingress (netdev family), after
        # the other side's tbf, so the sender's TCP sees a packet lost in the network.
        # (Dropping in the sender's own output hook would fail the send locally instead,
        # which TCP treats quite differently from a loss.)
        self._loss_tables(delete=True)
        if loss_pct:
            self._loss_tables(delete=False)

    def _loss_table(self, dev):
        return ("table netdev %s {\n"
                " chain in { type filter hook ingress device \"%s\" priority 0; policy accept;\n"
                "  numgen random mod 100 < %d drop\n }\n}\n"
                % (self.loss_name, dev, self.loss_pct))

    def _loss_tables(self, delete):
        for dev, prefix in ((self.host_if, []), (self.hall_if, ["ip", "netns", "exec", self.ns])):
            if delete:
                subprocess.run(prefix + ["nft", "delete", "table", "netdev", self.loss_name],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                continue
            p = subprocess.run(prefix + ["nft", "-f", "-"], input=self._loss_table(dev).encode(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode != 0:
                raise RuntimeError("nft: " + p.stdout.decode(errors="replace"))

    def link(self, up):
        """Takes the link down (nothing passes, nothing is told) or up again."""
        self.ns_sh("nft", "delete", "table", "inet", "hallbed_cut", check=False)
        if not up:
            rules = ("table inet hallbed_cut {\n"
                     " chain in { type filter hook input priority -10; policy accept;\n"
                     "  iifname \"%s\" drop\n }\n"
                     " chain out { type filter hook output priority -10; policy accept;\n"
                     "  oifname \"%s\" drop\n }\n}\n" % (self.hall_if, self.hall_if))
            subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"],
                           input=rules.encode(), check=True)

    def tx_bytes(self):
        """Bytes the hall's side has sent on the link (IP packets, retransmissions included)."""
        out = self.ns_sh("cat", "/sys/class/net/%s/statistics/tx_bytes" % self.hall_if)
        return int(out.strip())

    def popen(self, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.ns] + list(args), **kw)

    def run(self, args, **kw):
        return subprocess.run(["ip", "netns", "exec", self.ns] + list(args), **kw)

    def close(self):
        if not self.made:
            return
        self.made = False
        sh("ip", "netns", "pids", self.ns, check=False)
        for pid in sh("ip", "netns", "pids", self.ns, check=False).split():
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        self._loss_tables(delete=True)
        sh("ip", "link", "del", self.host_if, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
