# Hall services: build, demo and tests.  See README.md.
#
#   make run     install what is missing, build, start the demo on 127.0.0.1:8080
#   make run CLUSTER=1   the same with the county database as a 3-node Galera cluster on
#                loopback (SQL on 3307-3309, group communication on 4567-4575)
#   make stop    stop the demo (the cluster too)
#   make test    every test; ends with "N passed, N failed"
#   make fuzz    the libFuzzer drivers for longer (FUZZ_SECONDS each, default 300)
#   make SANITIZE=1 ...   build and test under ASan and UBSan

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla -Wimplicit-fallthrough
DEFS      = -D_GNU_SOURCE -D_FORTIFY_SOURCE=2
# The libraries, found with pkg-config once `make deps` has installed them: their flags go
# to $(B)/config.mk, which make remakes (and reads again) when it is missing or this file
# changes. The goals that install the packages first (run, test, bench, fuzz) build in a
# second make that reads the file then, so a fresh machine's first command works.
PKGS      = sqlite3 jansson libsodium inih libcurl zlib
MARIADB_PKG = libmariadb
TOP_GOALS = deps run stop test bench fuzz format clean deb
LDLIBS    = $(PKG_LIBS) -lfcgi -lpthread -lm
# each program records only the shared libraries it calls (no libcurl in hall-read)
LDFLAGS  += -Wl,--as-needed

B = build
ifeq ($(SANITIZE),1)
B = build/san
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifneq ($(filter-out $(TOP_GOALS),$(or $(MAKECMDGOALS),all)),)
include $(B)/config.mk
endif
# The shared libraries' headers; a program's own header sits beside its files.
ALL_CFLAGS = -std=c11 $(CFLAGS) $(WARN) $(DEFS) $(PKG_CFLAGS) -Ilib/core -Ilib/store \
             -Ilib/county -Ifcgi/web

# Every folder of code is a static library of all its files; a program is its main file
# and the libraries it uses, and the linker takes from each only what the program calls.
lib = $(B)/lib$(subst /,-,$(1)).a
objs = $(patsubst %.c,$(B)/%.o,$(wildcard $(1)/*.c))
CORE   = $(call lib,lib/core)
STORE  = $(call lib,lib/store)
COUNTY = $(call lib,lib/county)
WEB    = $(call lib,fcgi/web)
HALL   = $(call lib,fcgi/hall)
STAFF  = $(call lib,fcgi/staff)
AGENT  = $(call lib,agent/hall-agent)
FOLDERS = lib/core lib/store lib/county fcgi/web fcgi/hall fcgi/staff agent/hall-agent

PROGS     = $(B)/hall-read $(B)/hall-write $(B)/hall-admin $(B)/hall-hello $(B)/hall-agent \
            $(B)/county-admin $(B)/province-receiver $(B)/sms-gateway $(B)/staff-console \
            $(B)/county-notifier
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

# Debian packages the build, the demo and the tests need.
DEBS = build-essential pkg-config nginx libfcgi-dev libsqlite3-dev sqlite3 libjansson-dev \
       libsodium-dev libinih-dev libcmocka-dev clang libclang-rt-14-dev python3 curl wrk \
       mariadb-server mariadb-client galera-4 rsync libmariadb-dev libcurl4-openssl-dev zlib1g-dev \
       iproute2 nftables nodejs chromium fonts-wqy-zenhei slowhttptest openssl \
       debhelper dpkg-dev fakeroot lintian git debootstrap man-db mandoc \
       systemd python3-aiosmtpd poppler-utils

.PHONY: all programs deps run stop test bench fuzz clean format install install-node install-county deb
all: $(PROGS) $(UNIT_BIN) $(B)/netfault $(B)/sqlite-commit-bench $(B)/calendar-due \
     $(B)/county-ingest-bench $(B)/agent-floor

# Installs only what is missing, so a machine that has everything never calls apt-get.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    SUDO=; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Where a library is missing, say which Debian package brings it, rather than fail later
# at the first #include or link with undefined references.
$(B)/config.mk: Makefile
	@mkdir -p $(B)
	@B=$(B) PKGS="$(PKGS) $(MARIADB_PKG)" conf/configure > $@.tmp && mv $@.tmp $@

# Every object depends on the shared headers and on those of its own folder.
HEADERS = $(wildcard lib/*/*.h fcgi/*/*.h agent/*/*.h)
$(B)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CPPFLAGS) -c $< -o $@

$(foreach f,$(FOLDERS),$(eval $(call lib,$(f)): $(call objs,$(f))))
$(B)/lib%.a:
	@rm -f $@
	$(AR) rcs $@ $^

# The citizen site: hall-read answers, hall-write takes (fcgi/hall/).
$(B)/hall-read: $(B)/fcgi/hall/hall_read.o $(HALL) $(WEB) $(STORE) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/hall-write: $(B)/fcgi/hall/hall_write.o $(HALL) $(WEB) $(STORE) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The county staff console (fcgi/staff/).
$(B)/staff-console: $(B)/fcgi/staff/main.o $(STAFF) $(WEB) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
# The reference province receiver (fcgi/province/).
$(B)/province-receiver: $(call objs,fcgi/province) $(WEB) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The reference SMS gateway (fcgi/sms/).
$(B)/sms-gateway: $(call objs,fcgi/sms) $(WEB) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The sync agent (agent/hall-agent/) and the admin tools (agent/hall-admin/, agent/county-admin/).
# (GnuTLS binds to the agent's _gnutls_global_init_skip: see hall_agent.c)
$(B)/hall-agent: $(B)/agent/hall-agent/hall_agent.o $(AGENT) $(STORE) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -Wl,--export-dynamic-symbol=_gnutls_global_init_skip -o $@ $^ \
	    $(LDLIBS) $(MARIADB_LIBS)
# (fcgi/web's signin.c: the window's accounts hash their passwords as the sign-in checks them)
$(B)/hall-admin: $(call objs,agent/hall-admin) $(WEB) $(STORE) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/county-admin: $(call objs,agent/county-admin) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
# The county's notices to citizens (agent/county-notifier/).
$(B)/county-notifier: $(call objs,agent/county-notifier) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
# The benchmarks' yardstick: "hello world" on the same accept loop (tests/bench/).
$(B)/hall-hello: $(B)/tests/bench/hello.o $(WEB) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/sqlite-commit-bench: tests/bench/sqlite_commit.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

# 300 halls delivering to one county at once, and the plain INSERT yardstick (SPEC 9).
$(B)/county-ingest-bench: tests/bench/county_ingest.c $(COUNTY) $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)

# The floor under the agent's RSS: its libraries, store and county link, linked as it is.
$(B)/agent-floor: tests/bench/agent_floor.c $(STORE) $(COUNTY) $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--export-dynamic-symbol=_gnutls_global_init_skip \
	    -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)

# The weak-link tests' fault-injecting TCP proxy (usable by hand too).
$(B)/netfault: tests/weaklink/netfault.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

# The working-day calendar's answers (lib/core/calendar.c), for the tests' expected deadlines.
$(B)/calendar-due: tests/tools/calendar_due.c $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# A unit test is one file (and the headers beside the tests) linked with the shared
# libraries it tests.
UNIT_LIBS = $(WEB) $(STORE) $(COUNTY) $(CORE)
$(B)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(UNIT_LIBS) \
	    $(LDLIBS) $(MARIADB_LIBS) -lcmocka
# The reference receiver's body parser (fcgi/province/ingest.c) is not in a shared library.
PROVINCE_INGEST = $(B)/fcgi/province/ingest.o $(B)/fcgi/province/halls.o
$(B)/tests/test_ingest: tests/unit/test_ingest.c $(PROVINCE_INGEST) $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifcgi/province -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
	    $(PROVINCE_INGEST) $(UNIT_LIBS) $(LDLIBS) -lcmocka
# What a notice says (agent/county-notifier/text.c).
$(B)/tests/test_notice_text: tests/unit/test_notice_text.c $(B)/agent/county-notifier/text.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iagent/county-notifier -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
	    $(B)/agent/county-notifier/text.o $(UNIT_LIBS) $(LDLIBS) $(MARIADB_LIBS) -lcmocka
# The SMS gateway's body checks (fcgi/sms/sms_body.c), likewise.
$(B)/tests/test_sms_body: tests/unit/test_sms_body.c $(B)/fcgi/sms/sms_body.o $(UNIT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ifcgi/sms -Wno-missing-prototypes $(LDFLAGS) -o $@ $< \
	    $(B)/fcgi/sms/sms_body.o $(UNIT_LIBS) $(LDLIBS) -lcmocka
# The writers' tests fail the Nth allocation (tests/unit/fail_alloc.h): the linker sends
# their binaries' calls to malloc and realloc through the test's wrappers.
$(B)/tests/test_buf $(B)/tests/test_record: LDFLAGS += -Wl,--wrap=malloc,--wrap=realloc

# libFuzzer drivers, always built with clang and the sanitizers. Each is linked with
# FUZZ_LIB and the sources its own FUZZ_SRC_<driver> names (a parser outside lib/core).
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# the parsers and what they use: nothing that needs a store
FUZZ_LIB  = $(addprefix lib/core/,kv.c utf8.c caseno.c buf.c log.c timefmt.c text.c calendar.c)
FUZZ_SRC_fuzz_cookie = fcgi/web/cookie.c
# the reference province receiver's body, and hall-agent's reading of the province's answers
FUZZ_SRC_fuzz_ndjson = fcgi/province/ingest.c fcgi/province/halls.c lib/core/secret.c
# the reference SMS gateway's body: the JSON (lib/core/kv.c), then the message's checks
FUZZ_SRC_fuzz_sms = fcgi/sms/sms_body.c
FUZZ_SRC_fuzz_province_answer = agent/hall-agent/province_answer.c $(wildcard lib/store/*.c) \
    $(filter-out $(FUZZ_LIB),$(wildcard lib/core/*.c))
FUZZ_CFLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(DEFS) $(PKG_CFLAGS) \
              -Ilib/core -Ilib/store -Ilib/county -Ifcgi/web -Ifcgi/province -Ifcgi/sms -Iagent/hall-agent
.SECONDEXPANSION:
build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(FUZZ_LIB) $$(FUZZ_SRC_$$*) $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(FUZZ_SRC_$*) $(PKG_LIBS) -lpthread -lm

# The commands that install what is missing build in a second make, which reads this file
# again: on a fresh machine pkg-config and the libraries it asks about exist only after deps.
AFTER_DEPS = $(MAKE) --no-print-directory

# The figures of SPEC 9: a table, and var/bench/results.json.
bench: deps
	@$(AFTER_DEPS) all
	@B=$(B) python3 tests/bench/bench.py

run: deps
	@$(AFTER_DEPS) all
	@CLUSTER=$(CLUSTER) conf/demo run

stop:
	@conf/demo stop

test: deps
	@$(AFTER_DEPS) all $(FUZZ_BIN)
	@B=$(B) tests/run

fuzz: deps
	@$(AFTER_DEPS) $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p var/fuzz/$$n; \
	    echo "== $$n for $${FUZZ_SECONDS:-300} s"; \
	    $$f -max_total_time=$${FUZZ_SECONDS:-300} -max_len=20000 var/fuzz/$$n tests/fuzz/corpus/$$n || exit 1; done

# Installation, by hand or through the Debian packages (conf/debian): PREFIX and DESTDIR as
# usual. The shipped files name the packages' paths (/usr/sbin, /usr/share/hall, /etc/hall);
# install moves them to this PREFIX's. An INI file that is already there is kept.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share/hall
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
NGINXDIR    ?= $(SYSCONFDIR)/nginx
NODE_PROGS   = hall-read hall-write hall-agent hall-admin
COUNTY_PROGS = staff-console county-admin province-receiver sms-gateway county-notifier
NODE_UNITS   = hall-read.service hall-write.service hall-agent.service
COUNTY_UNITS = staff-console.service province-receiver.service sms-gateway.service \
               county-notifier.service county-purge.service county-purge.timer
PATHS_SED = -e 's|/usr/sbin/|$(SBINDIR)/|g' -e 's|/usr/share/hall|$(DATADIR)|g' \
            -e 's|/etc/hall|$(SYSCONFDIR)/hall|g'
# The county's sites name their limits staff_* so that they can share an nginx with a hall's.
STAFF_SED = -e 's/hall_client/staff_client/g' -e 's/hall_addr/staff_addr/g' \
            -e 's/hall_retry_after/staff_retry_after/g' \
            -e 's|nginx/server-limits.conf|nginx/staff-server-limits.conf|g'
# install_sed SED-ARGS, FROM, TO, MODE
install_sed = mkdir -p $(dir $(3)) && sed $(1) $(2) > $(3).tmp && chmod $(4) $(3).tmp && mv $(3).tmp $(3)
# install_conf: the same, unless an edited file is already there
install_conf = if [ -e $(3) ]; then echo "kept $(3)"; else $(call install_sed,$(1),$(2),$(3),$(4)); fi

programs: $(NODE_PROGS:%=$(B)/%) $(COUNTY_PROGS:%=$(B)/%)

install: install-node install-county

install-node: $(NODE_PROGS:%=$(B)/%)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sql/hall/seed \
	    $(DESTDIR)$(DATADIR)/conf/calendar $(DESTDIR)$(DATADIR)/public/errors \
	    $(DESTDIR)$(DATADIR)/nginx $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $^ $(DESTDIR)$(SBINDIR)/
	install -m 0644 sql/hall/*.sql $(DESTDIR)$(DATADIR)/sql/hall/
	install -m 0644 sql/hall/seed/*.sql $(DESTDIR)$(DATADIR)/sql/hall/seed/
	install -m 0644 conf/calendar/* $(DESTDIR)$(DATADIR)/conf/calendar/
	install -m 0644 public/*.css $(DESTDIR)$(DATADIR)/public/
	install -m 0644 public/errors/* $(DESTDIR)$(DATADIR)/public/errors/
	install -m 0644 conf/nginx/server-limits.conf $(DESTDIR)$(DATADIR)/nginx/
	$(call install_sed,$(PATHS_SED),conf/nginx/hall.site,$(DESTDIR)$(NGINXDIR)/sites-available/hall,0644)
	$(call install_sed,-e '',conf/nginx/limits.conf,$(DESTDIR)$(NGINXDIR)/conf.d/hall-node.conf,0644)
	$(call install_conf,$(PATHS_SED) -e 's|^; socket_group = www-data|socket_group = www-data|',conf/hall.ini.example,$(DESTDIR)$(SYSCONFDIR)/hall/hall.ini,0644)
	for u in $(NODE_UNITS); do $(call install_sed,$(PATHS_SED),conf/systemd/$$u,$(DESTDIR)$(UNITDIR)/$$u,0644); done
	$(call install_sed,-e '',conf/systemd/hall-node.sysusers,$(DESTDIR)$(SYSUSERSDIR)/hall-node.conf,0644)
	$(call install_sed,$(PATHS_SED),conf/systemd/hall-node.tmpfiles,$(DESTDIR)$(TMPFILESDIR)/hall-node.conf,0644)
	install -m 0644 $(NODE_PROGS:%=docs/man/%.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/man/hall.ini.5 $(DESTDIR)$(MANDIR)/man5/

install-county: $(COUNTY_PROGS:%=$(B)/%)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sql/county $(DESTDIR)$(DATADIR)/nginx \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $^ $(DESTDIR)$(SBINDIR)/
	install -m 0644 sql/county/*.sql $(DESTDIR)$(DATADIR)/sql/county/
	install -d $(DESTDIR)$(DATADIR)/mariadb
	install -m 0644 conf/mariadb/60-hall-county.cnf $(DESTDIR)$(DATADIR)/mariadb/
	$(call install_sed,$(STAFF_SED),conf/nginx/server-limits.conf,$(DESTDIR)$(DATADIR)/nginx/staff-server-limits.conf,0644)
	$(call install_sed,$(PATHS_SED) $(STAFF_SED),conf/nginx/staff.site,$(DESTDIR)$(NGINXDIR)/sites-available/hall-staff,0644)
	$(call install_sed,$(PATHS_SED) $(STAFF_SED),conf/nginx/province.site,$(DESTDIR)$(NGINXDIR)/sites-available/hall-province,0644)
	$(call install_sed,$(PATHS_SED) $(STAFF_SED),conf/nginx/sms.site,$(DESTDIR)$(NGINXDIR)/sites-available/hall-sms,0644)
	$(call install_sed,$(STAFF_SED),conf/nginx/limits.conf,$(DESTDIR)$(NGINXDIR)/conf.d/hall-county.conf,0644)
	for f in county staff receiver sms notifier; do \
	    $(call install_conf,$(PATHS_SED),conf/$$f.ini.example,$(DESTDIR)$(SYSCONFDIR)/hall/$$f.ini,0644); done
	for u in $(COUNTY_UNITS); do $(call install_sed,$(PATHS_SED),conf/systemd/$$u,$(DESTDIR)$(UNITDIR)/$$u,0644); done
	$(call install_sed,-e '',conf/systemd/hall-county.sysusers,$(DESTDIR)$(SYSUSERSDIR)/hall-county.conf,0644)
	$(call install_sed,$(PATHS_SED),conf/systemd/hall-county.tmpfiles,$(DESTDIR)$(TMPFILESDIR)/hall-county.conf,0644)
	install -m 0644 $(COUNTY_PROGS:%=docs/man/%.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/man/county.ini.5 $(DESTDIR)$(MANDIR)/man5/

# The two Debian packages, hall-node and hall-county, built with debhelper from a copy of
# the tree (the packaging is conf/debian: the house keeps no debian/ at its top), then
# checked with lintian. They land in build/deb/.
VERSION = $(shell sed -n 's/^\#define HALL_VERSION "\(.*\)"/\1/p' lib/core/core.h)
deb: deps
	@v=$$(dpkg-parsechangelog -l conf/debian/changelog -S Version); [ "$${v%-*}" = "$(VERSION)" ] || \
	    { echo "conf/debian/changelog is at $$v but HALL_VERSION is $(VERSION): add an entry"; exit 1; }
	rm -rf build/deb && mkdir -p build/deb/hall-$(VERSION)
	git ls-files -z --cached --others --exclude-standard | \
	    xargs -0 cp -a --parents -t build/deb/hall-$(VERSION)
	cp -a conf/debian build/deb/hall-$(VERSION)/debian
	cd build/deb/hall-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on error --display-info build/deb/*.changes > build/deb/lintian.txt; \
	    rc=$$?; cat build/deb/lintian.txt; exit $$rc
	@ls build/deb/*.deb

format:
	clang-format -i lib/*/*.[ch] fcgi/*/*.[ch] agent/*/*.[ch] tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build
