# Hall services: build, demo and tests.  See README.md.
#
#   make run     install what is missing, build, start the demo on 127.0.0.1:8080
#   make stop    stop the demo
#   make test    every test; ends with "N passed, N failed"
#   make fuzz    the libFuzzer drivers for longer (FUZZ_SECONDS each, default 300)
#   make SANITIZE=1 ...   build and test under ASan and UBSan

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral -Wvla -Wimplicit-fallthrough
DEFS      = -D_GNU_SOURCE -D_FORTIFY_SOURCE=2
PKGS      = sqlite3 jansson libsodium inih libcurl zlib libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libmariadb 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    = $(PKG_LIBS) -lfcgi -lpthread -lm
# each program records only the shared libraries it calls (no libcurl in hall-read)
LDFLAGS  += -Wl,--as-needed

B = build
ifeq ($(SANITIZE),1)
B = build/san
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# The shared libraries' headers; a program's own header sits beside its files.
ALL_CFLAGS = -std=c11 $(CFLAGS) $(WARN) $(DEFS) $(PKG_CFLAGS) -Ilib/core -Ilib/store \
             -Ilib/county -Ifcgi/web
MARIADB_LIBS := $(shell pkg-config --libs libmariadb 2>/dev/null)

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
            $(B)/county-admin $(B)/province-receiver $(B)/staff-console
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

# Debian packages the build, the demo and the tests need.
DEBS = build-essential pkg-config nginx libfcgi-dev libsqlite3-dev sqlite3 libjansson-dev \
       libsodium-dev libinih-dev libcmocka-dev clang libclang-rt-14-dev python3 curl wrk \
       mariadb-server mariadb-client libmariadb-dev libcurl4-openssl-dev zlib1g-dev \
       iproute2 nftables nodejs chromium fonts-wqy-zenhei slowhttptest openssl \
       libsystemd-dev systemd

.PHONY: all deps run stop test bench fuzz clean format
all: $(PROGS) $(UNIT_BIN) $(B)/netfault $(B)/sqlite-commit-bench $(B)/calendar-due

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

# Every object depends on the shared headers and on those of its own folder.
HEADERS = $(wildcard lib/*/*.h fcgi/*/*.h agent/*/*.h)
$(B)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

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
# The sync agent (agent/hall-agent/) and the admin tools (agent/hall-admin/, agent/county-admin/).
$(B)/hall-agent: $(B)/agent/hall-agent/hall_agent.o $(AGENT) $(STORE) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
$(B)/hall-admin: $(call objs,agent/hall-admin) $(STORE) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/county-admin: $(call objs,agent/county-admin) $(COUNTY) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
# The benchmarks' yardstick: "hello world" on the same accept loop (tests/bench/).
$(B)/hall-hello: $(B)/tests/bench/hello.o $(WEB) $(CORE)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/sqlite-commit-bench: tests/bench/sqlite_commit.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

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
FUZZ_SRC_fuzz_province_answer = agent/hall-agent/province_answer.c $(wildcard lib/store/*.c) \
    $(filter-out $(FUZZ_LIB),$(wildcard lib/core/*.c))
FUZZ_CFLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(DEFS) $(PKG_CFLAGS) \
              -Ilib/core -Ilib/store -Ilib/county -Ifcgi/web -Ifcgi/province -Iagent/hall-agent
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
	@conf/demo run

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

format:
	clang-format -i lib/*/*.[ch] fcgi/*/*.[ch] agent/*/*.[ch] tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build
