# restore-lib.sh: the checks the monthly restore check (restore-check-*.sh)
# and the restore Job (restore-*.sh) both make of what they restored,
# stated once. Sourced, never run; the caller defines fail MESSAGE (record
# a FAIL line and exit) and, for the statistics, os (curl with its
# timeout) and OPENSEARCH_URL.

# dump_check DIR: DIR/database.dump against DIR/manifest (its size and
# SHA-256, written by pg-dump.sh); sets manifest and dump.
dump_check() {
  manifest="$1/manifest"
  dump="$1/database.dump"
  [ -f "$manifest" ] || fail "no manifest in the fetched backup (did the fetch fail?)"
  [ -f "$dump" ] || fail "no database.dump in the fetched backup"
  size=$(wc -c <"$dump" | tr -d ' ')
  [ "$size" = "$(want size)" ] || fail "the dump is $size bytes, its manifest says $(want size)"
  sum=$(sha256sum "$dump" | cut -d' ' -f1)
  [ "$sum" = "$(want sha256)" ] || fail "the dump's checksum $sum differs from its manifest's $(want sha256)"
}

# want KEY: the manifest's value of KEY (created, size, sha256,
# invenio_version, rows.TABLE).
want() { sed -n "s/^$1=//p" "$manifest"; }

# row_counts_check COUNT: the rows of every table the manifest counted
# (rows.TABLE=N; -1: the table was not there) against COUNT TABLE, a
# command printing the restored table's rows; sets checked (tables
# compared).
row_counts_check() {
  bad=""
  checked=0
  for _line in $(grep '^rows\.' "$manifest"); do
    _t=${_line#rows.}
    _t=${_t%%=*}
    _n=${_line#*=}
    [ "$_n" = "-1" ] && continue
    _got=$("$1" "$_t" 2>/dev/null) || _got=missing
    checked=$((checked + 1))
    [ "$_got" = "$_n" ] || bad="$bad $_t:$_got/$_n"
  done
  [ -z "$bad" ] || fail "row counts differ from the manifest (table:restored/manifest):$bad"
}

# stats_counts INFO: the "index:count" pairs, one a line, that
# opensearch-snapshot.sh recorded in the snapshot's metadata (INFO: the
# snapshot's JSON); nothing when it held no statistics index.
stats_counts() {
  echo "$1" | grep -o '"stats_counts":{[^}]*}' | sed 's/^"stats_counts":{//; s/}$//' | tr ',' '\n' | tr -d '"'
}

# stats_counts_check INFO PREFIX: every statistics index the snapshot INFO
# counted, restored as PREFIX<index>, has at least as many documents
# (statistics only grow: the snapshot holds at least what was counted
# before it); sets stats (indices compared).
stats_counts_check() {
  bad=""
  stats=0
  for _pair in $(stats_counts "$1"); do
    _idx=${_pair%%:*}
    _n=${_pair#*:}
    _got=$(os "$OPENSEARCH_URL/_cat/count/$2$_idx?h=count" 2>/dev/null | tr -dc '0-9')
    stats=$((stats + 1))
    if [ -z "$_got" ] || [ "$_got" -lt "$_n" ]; then bad="$bad $_idx:${_got:-missing}/$_n"; fi
  done
  [ -z "$bad" ] || fail "restored statistics indices have fewer documents than recorded (index:restored/recorded):$bad"
}
