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
PKGS      = sqlite3 jansson libsodium inih libcurl zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libmariadb 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    = $(PKG_LIBS) -lfcgi -lpthread -lm

B = build
ifeq ($(SANITIZE),1)
B = build/san
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS = -std=c11 $(CFLAGS) $(WARN) $(DEFS) $(PKG_CFLAGS) -Ilib -Ifcgi -Iagent

LIB_SRC   = $(wildcard lib/*.c)
LIB_OBJ   = $(LIB_SRC:%.c=$(B)/%.o)
WEB_SRC   = $(filter-out fcgi/hall_read.c fcgi/hall_write.c fcgi/hello.c fcgi/province_receiver.c \
            fcgi/staff_%.c,$(wildcard fcgi/*.c))
WEB_OBJ   = $(WEB_SRC:%.c=$(B)/%.o)
AGENT_SRC = $(filter-out agent/hall_admin.c agent/county_admin.c agent/hall_agent.c,$(wildcard agent/*.c))
AGENT_OBJ = $(AGENT_SRC:%.c=$(B)/%.o)
MARIADB_LIBS := $(shell pkg-config --libs libmariadb 2>/dev/null)
PROGS     = $(B)/hall-read $(B)/hall-write $(B)/hall-admin $(B)/hall-hello $(B)/hall-agent \
            $(B)/county-admin $(B)/province-receiver $(B)/staff-console
# the county staff console: its own files, the shared accept loop, and the county connection
STAFF_OBJ = $(patsubst %.c,$(B)/%.o,$(wildcard fcgi/staff_*.c)) $(B)/agent/county_db.o
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)

# Debian packages the build, the demo and the tests need.
DEBS = build-essential pkg-config nginx libfcgi-dev libsqlite3-dev sqlite3 libjansson-dev \
       libsodium-dev libinih-dev libcmocka-dev clang libclang-rt-14-dev python3 curl wrk \
       mariadb-server mariadb-client libmariadb-dev libcurl4-openssl-dev zlib1g-dev \
       iproute2 nftables nodejs chromium fonts-wqy-zenhei

.PHONY: all deps run stop test bench fuzz clean format
all: $(PROGS) $(UNIT_BIN) $(B)/netfault $(B)/sqlite-commit-bench

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

$(B)/%.o: %.c lib/hall.h $(wildcard fcgi/*.h agent/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/hall-read: $(B)/fcgi/hall_read.o $(WEB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/hall-write: $(B)/fcgi/hall_write.o $(WEB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/hall-hello: $(B)/fcgi/hello.o $(B)/fcgi/server.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/province-receiver: $(B)/fcgi/province_receiver.o $(WEB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lz
$(B)/staff-console: $(STAFF_OBJ) $(WEB_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS)
$(B)/hall-admin: $(B)/agent/hall_admin.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/hall-agent: $(B)/agent/hall_agent.o $(AGENT_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS) -lcurl -lz
$(B)/county-admin: $(B)/agent/county_admin.o $(AGENT_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS) -lcurl -lz

$(B)/sqlite-commit-bench: tests/bench/sqlite_commit.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PKG_LIBS)

# The weak-link tests' fault-injecting TCP proxy (usable by hand too).
$(B)/netfault: tests/weaklink/netfault.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/tests/%: tests/unit/%.c $(LIB_OBJ) $(WEB_OBJ) $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MARIADB_LIBS) -lcurl -lz -lcmocka

# libFuzzer drivers, always built with clang and the sanitizers.
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# the parsers and what they use: nothing that needs a store
FUZZ_LIB  = lib/kv.c lib/utf8.c lib/caseno.c lib/buf.c lib/log.c lib/timefmt.c
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_kv.h $(FUZZ_LIB) lib/hall.h
	@mkdir -p $(dir $@)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(DEFS) $(PKG_CFLAGS) -Ilib \
	    -o $@ $< $(FUZZ_LIB) $(PKG_LIBS) -lpthread -lm

# The figures of SPEC 9: a table, and var/bench/results.json.
bench: deps all
	@B=$(B) python3 tests/bench/bench.py

run: deps all
	@conf/demo run

stop:
	@conf/demo stop

test: deps all $(FUZZ_BIN)
	@B=$(B) tests/run

fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p var/fuzz/$$n; \
	    echo "== $$n for $${FUZZ_SECONDS:-300} s"; \
	    $$f -max_total_time=$${FUZZ_SECONDS:-300} -max_len=20000 var/fuzz/$$n tests/fuzz/corpus/$$n || exit 1; done

format:
	clang-format -i lib/*.[ch] fcgi/*.[ch] agent/*.[ch] tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build
