# install.mk: make install / uninstall / dist, included by the Makefile.
# GNU-style directories; DESTDIR for staged installs (packages).
#   make install PREFIX=/usr DESTDIR=/tmp/stage

PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
# /etc for a system install (PREFIX=/usr), else under the prefix.
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL        ?= install

HC_VERSION_NUM := $(shell sed -n 's/.*define HC_VERSION  *"\(.*\)"/\1/p' src/server/settings.h)
DIST_NAME      := hardcache-$(HC_VERSION_NUM)
DIST_DIR       := $(BUILD)/dist

.PHONY: install uninstall dist

install: $(BUILD)/release/hardcached $(BUILD)/release/hardcache-audit
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(BUILD)/release/hardcached $(BUILD)/release/hardcache-audit $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 docs/hardcached.8 $(DESTDIR)$(MANDIR)/man8/
	if [ -f docs/hardcache-audit.1 ]; then \
	  $(INSTALL) -m 0644 docs/hardcache-audit.1 $(DESTDIR)$(MANDIR)/man1/; fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	  packaging/hardcached.service.in > $(DESTDIR)$(SYSTEMDUNITDIR)/hardcached.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/hardcached.service
	@# an edited config is never overwritten; the new default goes beside it
	if [ -e $(DESTDIR)$(SYSCONFDIR)/hardcached.conf ]; then \
	  $(INSTALL) -m 0644 packaging/hardcached.conf $(DESTDIR)$(SYSCONFDIR)/hardcached.conf.default; \
	else \
	  $(INSTALL) -m 0644 packaging/hardcached.conf $(DESTDIR)$(SYSCONFDIR)/hardcached.conf; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hardcached $(DESTDIR)$(BINDIR)/hardcache-audit \
	  $(DESTDIR)$(MANDIR)/man8/hardcached.8 $(DESTDIR)$(MANDIR)/man1/hardcache-audit.1 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/hardcached.service \
	  $(DESTDIR)$(SYSCONFDIR)/hardcached.conf.default
	@echo "uninstall: $(DESTDIR)$(SYSCONFDIR)/hardcached.conf kept (remove it by hand)"

# The release tarball of the committed tree (git archive, so nothing local
# leaks in) and its SHA-256 checksum, which users verify with
#   sha256sum -c hardcache-VERSION.tar.gz.sha256
dist:
	@mkdir -p $(DIST_DIR)
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  git archive --format=tar --prefix=$(DIST_NAME)/ HEAD | gzip -n -9 > $(DIST_DIR)/$(DIST_NAME).tar.gz; \
	else \
	  tar --exclude=./$(BUILD) --exclude=./.git --transform 's|^\.|$(DIST_NAME)|' \
	    --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . \
	    | gzip -n -9 > $(DIST_DIR)/$(DIST_NAME).tar.gz; \
	fi
	cd $(DIST_DIR) && sha256sum $(DIST_NAME).tar.gz > $(DIST_NAME).tar.gz.sha256
	@echo "dist: $(DIST_DIR)/$(DIST_NAME).tar.gz"
	@cat $(DIST_DIR)/$(DIST_NAME).tar.gz.sha256
