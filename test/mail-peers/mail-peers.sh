#!/usr/bin/env bash
# mail-peers.sh -- real mail servers on 127.0.0.1 for Mailroom's tests (Debian 12, run as root).
#
#   mail-peers.sh install               Debian packages, only when missing (apt-get update first)
#   mail-peers.sh up                    fresh state under $MP_ROOT, start everything, wait for the
#                                       banners, print "ready" (stops a set already running there)
#   mail-peers.sh down                  stop what `up` started, by pid
#   mail-peers.sh status                which ports answer
#   mail-peers.sh add-user NAME PASS    a mailbox NAME@example.test, usable at once, no restart
#   mail-peers.sh add-cyrus-user NAME PASS
#                                       a Cyrus account NAME@cyrus.test (JMAP, IMAP), created by
#                                       its first IMAP login, usable at once
#   mail-peers.sh add-component NAME    start one more component in the running set (a set started
#                                       before that component existed), and record it in the state
#
# Servers (all on 127.0.0.1; every port moves by $MP_PORT_OFFSET, default 0):
#   Dovecot  IMAP 10143 (STARTTLS), IMAPS 10993, POP3 10110 (STLS), POP3S 10995, LMTP 10024,
#            auth 10012 (SASL for Postfix)
#   Postfix  10025 "MX" (STARTTLS and AUTH optional; relaying to other domains only after AUTH),
#            submission 10587 (STARTTLS and AUTH required), submissions 10465 (TLS, AUTH required)
#   smtp-sink 10026: accepts anything, one file per message in $MP_ROOT/sink/
#   smtp-sink 10027 ("dead"): refuses every RCPT with 550 5.1.1; the next hop of dead.test
#   Dante SOCKS5 11080: no auth, CONNECT to 127.0.0.0/8 only
#   Cyrus    JMAP over HTTP 18080 and HTTPS 18443 (session GET /jmap, API POST /jmap/, HTTP Basic),
#            IMAP 11143 (plain text, LOGIN/PLAIN), LMTP 11024. Debian's cyrus-imapd package
#            conflicts with dovecot-imapd, so only cyrus-common and cyrus-caldav (httpd: JMAP) are
#            installed, and imapd comes from the cyrus-imapd .deb unpacked into $CYRUS_OPT.
# TLS: $MP_ROOT/tls/cert.pem, self-signed, CN=localhost, SAN DNS:localhost + IP:127.0.0.1; clients
# use it as their CA. $MP_ROOT/state.json tells the ports and paths to the test helpers.
#
# Routing in Postfix:
#   *@example.test  -> Dovecot LMTP. Postfix accepts every local part (a regexp map it never has to
#                      reload), Dovecot refuses unknown users -> an asynchronous DSN to the sender.
#                      Local parts starting with "nosuchuser" are refused at RCPT (550 5.1.1).
#   *@dead.test     -> accepted, then refused by the dead sink -> an asynchronous DSN to the sender.
#   *@bounces.mailroom.test -> 127.0.0.1:10028, where a test runs Mailroom's bounce intake (VERP
#                      return paths); while nothing listens there, Postfix keeps the mail queued.
#   *@cyrus.test    -> Cyrus LMTP (when Cyrus runs); Cyrus refuses unknown users -> a DSN.
#   anything else   -> accepted only after AUTH, then discarded.
#
# Components: MP_COMPONENTS="dovecot postfix cyrus sink dante" (the default: all). A component is a
# set of packages (pkgs_NAME), an up_NAME function and its pid files (pidfiles_NAME); add one by
# adding those three and its name to ALL_COMPONENTS.
set -euo pipefail

MP_ROOT=${MP_ROOT:-/tmp/mailroom-mail-peers}
ALL_COMPONENTS="dovecot postfix cyrus sink dante"
MP_COMPONENTS=${MP_COMPONENTS:-$ALL_COMPONENTS}
OFF=${MP_PORT_OFFSET:-0}
DOMAIN=example.test
DEAD_DOMAIN=dead.test
BOUNCE_DOMAIN=bounces.mailroom.test
CYRUS_DOMAIN=cyrus.test
# where the cyrus-imapd .deb is unpacked (imapd; see the header)
CYRUS_OPT=/opt/mailroom-cyrus
R=$MP_ROOT

set_ports() {
  P_IMAP=$((10143 + OFF)) P_IMAPS=$((10993 + OFF)) P_POP3=$((10110 + OFF)) P_POP3S=$((10995 + OFF))
  P_LMTP=$((10024 + OFF)) P_AUTH=$((10012 + OFF))
  P_SMTP=$((10025 + OFF)) P_SUBMISSION=$((10587 + OFF)) P_SUBMISSIONS=$((10465 + OFF))
  P_SINK=$((10026 + OFF)) P_DEAD=$((10027 + OFF)) P_BOUNCE=$((10028 + OFF)) P_SOCKS=$((11080 + OFF))
  P_JMAP=$((18080 + OFF)) P_JMAPS=$((18443 + OFF)) P_CYRUS_IMAP=$((11143 + OFF)) P_CYRUS_LMTP=$((11024 + OFF))
}
set_ports
# Commands on a running set take its offset from its state file, whatever MP_PORT_OFFSET says now.
ports_of_running_set() {
  local imap
  imap=$(sed -n 's/^ *"imap": \([0-9]*\),.*/\1/p' "$R/state.json" 2>/dev/null)
  [ -n "$imap" ] || die "no mail peers under $R (run up first)"
  OFF=$((imap - 10143))
  set_ports
}

want() { [[ " $MP_COMPONENTS " == *" $1 "* ]]; }
want_in() { [[ " $1 " == *" $2 "* ]]; } # want_in LIST NAME
log() { echo "[mail-peers $(date +%T.%3N)] $*" >&2; }
die() { log "$*"; exit 1; }

# wait_banner PORT REGEX [TIMEOUT_S]: connect until the server's first line matches, or time out.
wait_banner() {
  local port=$1 re=$2 line="" end=$(($(date +%s) + ${3:-15}))
  while :; do
    # braces: a bare `exec 3<>... 2>/dev/null` would silence this script's stderr for good
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      line=""
      IFS= read -r -t 2 line <&3 || true
      exec 3<&- 3>&-
      [[ $line =~ $re ]] && return 0
    fi
    (($(date +%s) > end)) && { log "port $port not ready (last line: ${line:-none})"; return 1; }
    sleep 0.05
  done
}

# wait_port PORT [TIMEOUT_S]: connect only (servers that speak second, like SOCKS).
wait_port() {
  local port=$1 end=$(($(date +%s) + ${2:-10}))
  until { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; do
    (($(date +%s) > end)) && { log "port $port not listening"; return 1; }
    sleep 0.05
  done
  exec 3<&- 3>&-
}

# ---------------------------------------------------------------------------------------- install

pkgs_dovecot() { echo dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd; }
pkgs_postfix() { echo postfix; }
pkgs_sink() { echo postfix; } # smtp-sink ships with postfix
pkgs_dante() { echo dante-server; }
# sasl2-bin: saslpasswd2 for Cyrus's users; curl: the first IMAP login that creates an account
pkgs_cyrus() { echo cyrus-common cyrus-caldav sasl2-bin curl; }
# openssl makes the certificate; swaks (+ libnet-ssleay-perl for its TLS) is for checking by hand
pkgs_common() { echo openssl swaks libnet-ssleay-perl; }

cmd_install() {
  local c pkgs missing=()
  pkgs=$(pkgs_common)
  for c in $ALL_COMPONENTS; do pkgs+=" $(pkgs_"$c")"; done
  for p in $(tr ' ' '\n' <<<"$pkgs" | sort -u); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    # Postfix would ask how to configure the system's own mail: it gets no configuration at all.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
  fi
  if [ ! -x "$CYRUS_OPT/usr/lib/cyrus/bin/imapd" ]; then
    # imapd is in cyrus-imapd, which would remove dovecot-imapd: its files are unpacked, not installed
    local d
    d=$(mktemp -d)
    chown _apt "$d" 2>/dev/null || true # apt downloads as _apt where it can
    # the same version as cyrus-common; a machine whose package lists are gone gets them first
    (cd "$d" && { apt-get download -qq "cyrus-imapd=$(dpkg-query -W -f='${Version}' cyrus-common)" 2>/dev/null ||
      { apt-get update -qq && apt-get download -qq "cyrus-imapd=$(dpkg-query -W -f='${Version}' cyrus-common)"; }; } &&
      dpkg-deb -x cyrus-imapd_*.deb "$CYRUS_OPT") || { rm -rf "$d"; die "could not download and unpack cyrus-imapd"; }
    rm -rf "$d"
    log "unpacked cyrus-imapd $(dpkg-query -W -f='${Version}' cyrus-common) into $CYRUS_OPT"
  fi
  log "installed: dovecot $(dovecot --version | cut -d' ' -f1), postfix $(dpkg-query -W -f='${Version}' postfix)," \
    "dante $(dpkg-query -W -f='${Version}' dante-server), cyrus $(dpkg-query -W -f='${Version}' cyrus-common)"
}

# --------------------------------------------------------------------------------------------- up

gen_tls() {
  mkdir -p "$R/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -addext 'basicConstraints=critical,CA:TRUE' \
    -keyout "$R/tls/key.pem" -out "$R/tls/cert.pem" 2>/dev/null
  chmod 644 "$R/tls/cert.pem"
  chmod 600 "$R/tls/key.pem"
}

up_dovecot() {
  local D=$R/dovecot
  mkdir -p "$D/users" "$R/mail"
  chown mail:mail "$R/mail"
  chown root:dovecot "$D/users"
  chmod 750 "$D/users"
  # One passwd-file per user: Dovecot re-reads a passwd-file at most once a second, so one shared
  # file could hide a user added within the second of another lookup. A new file is read at once.
  cat >"$D/dovecot.conf" <<EOF
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = $D/run
state_dir = $D/state
instance_name = mailroom-peers
log_path = $D/dovecot.log
auth_verbose = yes
ssl = yes
ssl_cert = <$R/tls/cert.pem
ssl_key = <$R/tls/key.pem
disable_plaintext_auth = no
auth_failure_delay = 0
auth_cache_size = 0
auth_mechanisms = plain login cram-md5 digest-md5 scram-sha-1 scram-sha-256 apop xoauth2 oauthbearer
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Ln $D/users/%Ln
}
userdb {
  driver = passwd-file
  args = username_format=%Ln $D/users/%Ln
  default_fields = uid=mail gid=mail home=$R/mail/%Ln
}
first_valid_uid = 8
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
    auto = subscribe
  }
  mailbox Trash {
    special_use = \\Trash
    auto = subscribe
  }
  mailbox Junk {
    special_use = \\Junk
    auto = subscribe
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}
protocol imap {
  mail_max_userip_connections = 500
}
protocol pop3 {
  mail_max_userip_connections = 500
  pop3_uidl_format = %08Xu%08Xv
}
protocol lmtp {
  postmaster_address = postmaster@$DOMAIN
}
service imap-login {
  inet_listener imap {
    port = $P_IMAP
  }
  inet_listener imaps {
    port = $P_IMAPS
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}
service pop3-login {
  inet_listener pop3 {
    port = $P_POP3
  }
  inet_listener pop3s {
    port = $P_POP3S
    ssl = yes
  }
  service_count = 0
  process_min_avail = 1
}
service lmtp {
  inet_listener lmtp {
    port = $P_LMTP
  }
}
# Anvil's auth penalty delays every login from an IP after a failed one (2 s, doubling up to 15 s),
# whatever auth_failure_delay says: a wrong password in one test would slow all the others down.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service auth {
  inet_listener auth-inet {
    port = $P_AUTH
  }
}
EOF
  # Every IMAP process in IDLE takes an inotify instance, all under one user: past the kernel's
  # default of 128 (a few workers' tests at once), Dovecot falls back to checking every 30 s.
  if [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)" -lt 1024 ]; then
    sysctl -qw fs.inotify.max_user_instances=1024 2>/dev/null || true
  fi
  dovecot -c "$D/dovecot.conf" </dev/null >"$D/start.log" 2>&1 || { cat "$D/start.log" >&2; return 1; }
  wait_banner "$P_IMAP" '^\* OK' && wait_banner "$P_POP3" '^\+OK' && wait_banner "$P_LMTP" '^220'
  log "dovecot up (pid $(cat "$D/run/master.pid"))"
}
pidfiles_dovecot() { echo "$R/dovecot/run/master.pid"; }

up_postfix() {
  local P=$R/postfix
  mkdir -p "$P/etc" "$P/spool" "$P/data"
  chown postfix:postfix "$P/data"
  # The queue made by hand: `postfix start` would spend ~2 s in its checks (post-install, postsuper).
  (cd "$P/spool" && mkdir -p active bounce corrupt defer deferred flush hold incoming maildrop pid private public saved trace &&
    chown postfix:root active bounce corrupt defer deferred flush hold incoming private saved trace &&
    chmod 700 active bounce corrupt defer deferred flush hold incoming private saved trace &&
    chown postfix:postdrop maildrop public && chmod 730 maildrop && chmod 710 public && chmod 755 pid)
  cat >"$P/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
maillog_file = $P/postfix.log
maillog_file_prefixes = $R, /var, /dev/stdout
myhostname = mail.$DOMAIN
mydomain = $DOMAIN
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_dns_support_level = disabled
lmtp_host_lookup = native
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
smtpd_banner = \$myhostname ESMTP Postfix (test)
message_size_limit = 52428800
smtputf8_enable = no
virtual_mailbox_domains = $DOMAIN$(want cyrus && echo ", $CYRUS_DOMAIN")
virtual_mailbox_maps = regexp:$P/etc/vmailbox.regexp
virtual_transport = lmtp:inet:127.0.0.1:$P_LMTP
relay_domains = $DEAD_DOMAIN $BOUNCE_DOMAIN
relay_recipient_maps =
transport_maps = texthash:$P/etc/transport
default_transport = discard:external delivery disabled in test relay
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$P_AUTH
smtpd_sasl_auth_enable = yes
smtpd_sasl_authenticated_header = yes
smtpd_tls_auth_only = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_chain_files = $R/tls/key.pem, $R/tls/cert.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_client_auth_rate_limit = 0
in_flow_delay = 0
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 30s
delay_warning_time = 0
EOF
  cat >"$P/etc/master.cf" <<EOF
127.0.0.1:$P_SMTP inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/smtp-$P_SMTP
127.0.0.1:$P_SUBMISSION inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/submission-$P_SUBMISSION
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$P_SUBMISSIONS inet n  -       n       -       -       smtpd
  -o syslog_name=postfix/smtps-$P_SUBMISSIONS
  -o smtpd_tls_wrappermode=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  # Any local part of the domain is a mailbox as far as Postfix knows, so a user added at run time
  # needs no reload; Dovecot LMTP refuses the unknown ones (a DSN). "nosuchuser*" is refused at RCPT.
  cat >"$P/etc/vmailbox.regexp" <<EOF
if /@${DOMAIN//./\\.}\$/
!/^nosuchuser/ OK
endif
/@${CYRUS_DOMAIN//./\\.}\$/ OK
EOF
  echo "$DEAD_DOMAIN smtp:[127.0.0.1]:$P_DEAD" >"$P/etc/transport"
  echo "$BOUNCE_DOMAIN smtp:[127.0.0.1]:$P_BOUNCE" >>"$P/etc/transport"
  want cyrus && echo "$CYRUS_DOMAIN lmtp:inet:127.0.0.1:$P_CYRUS_LMTP" >>"$P/etc/transport"
  # Postfix re-reads a config file modified within the last second, after a sleep(1), until it is
  # a second old: dated back, the files just written cost no ~2 s at each Postfix start.
  touch -d '1 minute ago' "$P"/etc/*
  # `master -w` is what `postfix start` ends with, after checks meant for a long-lived queue
  "$(postconf -c "$P/etc" -h daemon_directory)/master" -c "$P/etc" -w </dev/null >"$P/start.log" 2>&1 ||
    { cat "$P/start.log" "$P/postfix.log" >&2 || true; return 1; }
  wait_banner "$P_SMTP" '^220' && wait_banner "$P_SUBMISSION" '^220'
  log "postfix up (pid $(tr -d ' ' <"$P/spool/pid/master.pid"))"
}
pidfiles_postfix() { echo "$R/postfix/spool/pid/master.pid"; }

up_cyrus() {
  local C=$R/cyrus B=/usr/lib/cyrus/bin
  [ -x "$CYRUS_OPT/usr/lib/cyrus/bin/imapd" ] || die "no $CYRUS_OPT/usr/lib/cyrus/bin/imapd: run install first"
  mkdir -p "$C"/{conf/db,conf/socket,spool,run/proc,run/lock,run/socket,tls}
  # Cyrus runs as cyrus:mail and reads its key itself: a copy of its own
  cp "$R/tls/key.pem" "$R/tls/cert.pem" "$C/tls/"
  # No search engine: Email/query by mailbox and date needs none (text filters would need Xapian
  # and a squatter daemon). No sync_log either: nothing replicates or indexes.
  cat >"$C/imapd.conf" <<EOF
configdirectory: $C/conf
partition-default: $C/spool
defaultpartition: default
proc_path: $C/run/proc
mboxname_lockpath: $C/run/lock
lmtpsocket: $C/run/socket/lmtp
idlesocket: $C/run/socket/idle
notifysocket: $C/run/socket/notify
servername: localhost
admins: cyrus
altnamespace: yes
unixhierarchysep: yes
virtdomains: no
lmtp_downcase_rcpt: yes
allowplaintext: yes
autocreate_quota: 0
autocreate_post: no
autocreate_inbox_folders: Drafts|Sent|Trash|Junk|Archive
autocreate_subscribe_folders: Drafts|Sent|Trash|Junk|Archive
xlist-drafts: Drafts
xlist-sent: Sent
xlist-trash: Trash
xlist-junk: Junk
xlist-archive: Archive
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $C/conf/sasldb2
sasl_mech_list: PLAIN LOGIN
tls_server_cert: $C/tls/cert.pem
tls_server_key: $C/tls/key.pem
httpmodules: jmap
httpallowcompress: no
conversations: yes
conversations_db: twoskip
smtp_backend: host
smtp_host: 127.0.0.1:$P_SMTP
syslog_prefix: mailroom-cyrus
EOF
  cat >"$C/cyrus.conf" <<EOF
START {
  recover cmd="ctl_cyrusdb -r -C $C/imapd.conf"
}
SERVICES {
  imap cmd="$CYRUS_OPT/usr/lib/cyrus/bin/imapd -C $C/imapd.conf" listen="127.0.0.1:$P_CYRUS_IMAP" prefork=1
  http cmd="httpd -C $C/imapd.conf" listen="127.0.0.1:$P_JMAP" prefork=1
  https cmd="httpd -s -C $C/imapd.conf" listen="127.0.0.1:$P_JMAPS" prefork=0
  lmtp cmd="lmtpd -a -C $C/imapd.conf" listen="127.0.0.1:$P_CYRUS_LMTP" prefork=0
}
EVENTS {
  checkpoint cmd="ctl_cyrusdb -c -C $C/imapd.conf" period=30
}
EOF
  # the admin; test users come from add-cyrus-user
  printf '%s' "cyrus-admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" |
    saslpasswd2 -p -c -f "$C/conf/sasldb2" -u localhost cyrus
  chown -R cyrus:mail "$C"
  chmod 600 "$C/tls/key.pem"
  "$B/master" -C "$C/imapd.conf" -M "$C/cyrus.conf" -p "$C/run/master.pid" -d </dev/null >"$C/start.log" 2>&1 ||
    { cat "$C/start.log" >&2; return 1; }
  wait_banner "$P_CYRUS_IMAP" '^\* OK' && wait_banner "$P_CYRUS_LMTP" '^220' && wait_port "$P_JMAP" && wait_port "$P_JMAPS"
  log "cyrus up (pid $(cat "$C/run/master.pid"))"
}
pidfiles_cyrus() { echo "$R/cyrus/run/master.pid"; }

# start_sink PORT NAME [smtp-sink options...]: one smtp-sink in the background, its pid in NAME.pid
start_sink() {
  local port=$1 name=$2
  shift 2
  setsid smtp-sink "$@" 127.0.0.1:"$port" 256 </dev/null >"$R/$name.log" 2>&1 &
  echo $! >"$R/$name.pid"
  wait_banner "$port" '^220'
}

up_sink() {
  mkdir -p "$R/sink"
  chown postfix "$R/sink"
  # -u postfix: drops root; -R DIR -d FORMAT: one file per message (smtp-sink's AUTH is fake: no AUTH here)
  start_sink "$P_SINK" smtp-sink -u postfix -R "$R/sink" -d '%Y%m%d%H%M%S.'
  # the next hop of dead.test: every RCPT gets "550 5.1.1", so Postfix returns a DSN to the sender
  start_sink "$P_DEAD" dead-sink -u postfix -f RCPT -B '550 5.1.1 Recipient address rejected: no such user here'
  log "smtp-sink up (pid $(cat "$R/smtp-sink.pid"), messages in $R/sink/), dead sink up (pid $(cat "$R/dead-sink.pid"))"
}
pidfiles_sink() { echo "$R/smtp-sink.pid $R/dead-sink.pid"; }

up_dante() {
  cat >"$R/danted.conf" <<EOF
logoutput: $R/danted.log
internal: 127.0.0.1 port = $P_SOCKS
external: 127.0.0.1
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect }
socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }
EOF
  danted -D -f "$R/danted.conf" -p "$R/danted.pid" </dev/null >"$R/danted.start.log" 2>&1
  wait_port "$P_SOCKS"
  local end=$(($(date +%s) + 5))
  until [ -s "$R/danted.pid" ]; do
    (($(date +%s) > end)) && { log "danted wrote no pid file"; return 1; }
    sleep 0.02
  done
  log "dante up (pid $(cat "$R/danted.pid"))"
}
pidfiles_dante() { echo "$R/danted.pid"; }

# write_state COMPONENTS: the state file, for the components that run
write_state() {
  cat >"$R/state.json.tmp" <<EOF
{
  "root": "$R",
  "host": "127.0.0.1",
  "domain": "$DOMAIN",
  "deadDomain": "$DEAD_DOMAIN",
  "bounceDomain": "$BOUNCE_DOMAIN",
  "cyrusDomain": "$CYRUS_DOMAIN",
  "caPath": "$R/tls/cert.pem",
  "sinkDir": "$R/sink",
  "components": "$1",
  "ports": {
    "imap": $P_IMAP, "imaps": $P_IMAPS, "pop3": $P_POP3, "pop3s": $P_POP3S, "lmtp": $P_LMTP, "auth": $P_AUTH,
    "smtp": $P_SMTP, "submission": $P_SUBMISSION, "submissions": $P_SUBMISSIONS,
    "sink": $P_SINK, "deadSink": $P_DEAD, "bounceIntake": $P_BOUNCE, "socks": $P_SOCKS$(want_in "$1" cyrus && echo ",
    \"jmap\": $P_JMAP, \"jmaps\": $P_JMAPS, \"cyrusImap\": $P_CYRUS_IMAP, \"cyrusLmtp\": $P_CYRUS_LMTP")
  }
}
EOF
  mv "$R/state.json.tmp" "$R/state.json"
}

cmd_up() {
  [ "$(id -u)" = 0 ] || die "run as root"
  local c started=$(date +%s%N)
  [ -d "$R" ] && cmd_down >/dev/null 2>&1
  rm -rf "$R"
  mkdir -p "$R"
  chmod 755 "$R"
  gen_tls
  for c in $ALL_COMPONENTS; do
    want "$c" || continue
    "up_$c" || { log "$c did not start; logs are in $R"; cmd_down >/dev/null 2>&1 || true; exit 1; }
  done
  write_state "$MP_COMPONENTS"
  log "up in $((($(date +%s%N) - started) / 1000000)) ms; CA: $R/tls/cert.pem; state: $R/state.json"
  echo ready
}

# -------------------------------------------------------------------------------------- add-user

cmd_add_user() {
  local name=${1:-} pass=${2:-}
  [[ $name =~ ^[a-z0-9][a-z0-9._-]{0,63}$ ]] || die "add-user: NAME must be lower-case [a-z0-9._-], got '$name'"
  [[ -n $pass && $pass != *:* && $pass != *$'\n'* && $pass != *$'\r'* ]] ||
    die "add-user: PASSWORD must be non-empty, without ':' or line breaks"
  [ -d "$R/dovecot/users" ] || die "add-user: no mail peers under $R (run up first)"
  local f=$R/dovecot/users/$name
  [ -e "$f" ] && die "add-user: $name exists"
  # written aside and renamed: Dovecot never sees a half-written file
  printf '%s:{PLAIN}%s::::::\n' "$name" "$pass" >"$f.tmp"
  chown root:dovecot "$f.tmp"
  chmod 640 "$f.tmp"
  mv "$f.tmp" "$f"
  echo "$name@$DOMAIN"
}

# cyrus_login NAME PASS: an IMAP LOGIN, which creates the account and its folders the first time
cyrus_login() {
  local netrc
  netrc=$(mktemp)
  # the password through a netrc file, not the command line that `ps` shows
  printf 'machine 127.0.0.1 login %s password %s\n' "$1" "$2" >"$netrc"
  curl -sS --max-time 10 --netrc-file "$netrc" -o /dev/null "imap://127.0.0.1:$P_CYRUS_IMAP/"
  local st=$?
  rm -f "$netrc"
  return $st
}

cmd_add_cyrus_user() {
  local name=${1:-} pass=${2:-}
  [[ $name =~ ^[a-z0-9][a-z0-9_-]{0,63}$ ]] || die "add-cyrus-user: NAME must be lower-case [a-z0-9_-], got '$name'"
  [[ -n $pass && $pass =~ ^[[:graph:]]+$ && $pass != *[\"\\]* ]] ||
    die "add-cyrus-user: PASSWORD must be printable ASCII, without spaces, quotes or backslashes"
  local C=$R/cyrus
  [ -f "$C/conf/sasldb2" ] || die "add-cyrus-user: no Cyrus under $R (run up, or add-component cyrus)"
  ports_of_running_set
  # the sasldb is one file: one writer at a time
  (
    flock 9
    if sasldblistusers2 -f "$C/conf/sasldb2" 2>/dev/null | grep -q "^$name@"; then
      echo "exists" >&2
      exit 3
    fi
    printf '%s' "$pass" | saslpasswd2 -p -c -f "$C/conf/sasldb2" -u localhost "$name"
  ) 9>"$C/sasldb.lock" || { [ $? = 3 ] && die "add-cyrus-user: $name exists"; die "add-cyrus-user: saslpasswd2 failed"; }
  cyrus_login "$name" "$pass" || die "add-cyrus-user: the first IMAP login of $name failed"
  echo "$name@$CYRUS_DOMAIN"
}

# ---------------------------------------------------------------------------------- add-component

cmd_add_component() {
  local name=${1:-} running
  [[ " $ALL_COMPONENTS " == *" $name "* ]] || die "add-component: no component '$name' (have: $ALL_COMPONENTS)"
  ports_of_running_set
  running=$(sed -n 's/^  "components": "\(.*\)",$/\1/p' "$R/state.json")
  if want_in "$running" "$name"; then
    log "$name runs already"
    return 0
  fi
  "up_$name" || { log "$name did not start; logs are in $R"; exit 1; }
  write_state "$running $name"
  echo ready
}

# ------------------------------------------------------------------------------------------ down

alive() {
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] # a zombie waits for PID 1 to reap it: it is stopped
}
# stop PIDFILE...: TERM each pid, wait for all (up to 5 s), then KILL what is left. A daemon that
# leads its own process group (Dovecot, Postfix, the sinks: they call setsid) gets the TERM with its
# whole group: Dovecot's master alone takes ~1 s to shut its children down, the group takes 10 ms.
stop() {
  local f p pgid pids=()
  for f in "$@"; do
    [ -s "$f" ] || continue
    p=$(tr -d ' \n' <"$f")
    [[ $p =~ ^[0-9]+$ ]] || continue
    alive "$p" || continue
    pgid=$(awk '{print $5}' "/proc/$p/stat" 2>/dev/null || true)
    if [ "$pgid" = "$p" ]; then kill -TERM -- "-$p" 2>/dev/null || true; else kill -TERM "$p" 2>/dev/null || true; fi
    pids+=("$p")
  done
  ((${#pids[@]} > 0)) || return 0
  for _ in $(seq 100); do
    local left=()
    for p in "${pids[@]}"; do alive "$p" && left+=("$p"); done
    ((${#left[@]} == 0)) && return 0
    pids=("${left[@]}")
    sleep 0.05
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
}

cmd_down() {
  local c files=()
  # SIGTERM to Postfix's master is `postfix stop` without its 1 s poll
  for c in $ALL_COMPONENTS; do
    # shellcheck disable=SC2207
    files+=($(pidfiles_"$c"))
  done
  stop "${files[@]}"
  log "down"
}

cmd_status() {
  local name port st=0
  for name in imap imaps pop3 pop3s lmtp auth smtp submission submissions sink dead socks jmap jmaps cyrus-imap cyrus-lmtp; do
    case $name in
    imap) port=$P_IMAP ;; imaps) port=$P_IMAPS ;; pop3) port=$P_POP3 ;; pop3s) port=$P_POP3S ;;
    lmtp) port=$P_LMTP ;; auth) port=$P_AUTH ;; smtp) port=$P_SMTP ;; submission) port=$P_SUBMISSION ;;
    submissions) port=$P_SUBMISSIONS ;; sink) port=$P_SINK ;; dead) port=$P_DEAD ;; socks) port=$P_SOCKS ;;
    jmap) port=$P_JMAP ;; jmaps) port=$P_JMAPS ;; cyrus-imap) port=$P_CYRUS_IMAP ;; cyrus-lmtp) port=$P_CYRUS_LMTP ;;
    esac
    if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
      exec 3<&- 3>&-
      printf '%-12s 127.0.0.1:%-6s up\n' "$name" "$port"
    else
      printf '%-12s 127.0.0.1:%-6s down\n' "$name" "$port"
      st=1
    fi
  done
  return $st
}

case "${1:-}" in
install) cmd_install ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
add-user) cmd_add_user "${2:-}" "${3:-}" ;;
add-cyrus-user) cmd_add_cyrus_user "${2:-}" "${3:-}" ;;
add-component) cmd_add_component "${2:-}" ;;
*)
  echo "usage: $0 install | up | down | status | add-user NAME PASSWORD | add-cyrus-user NAME PASSWORD | add-component NAME" >&2
  exit 2
  ;;
esac
