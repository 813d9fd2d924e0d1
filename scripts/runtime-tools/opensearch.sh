#!/usr/bin/env bash
# Builds a stand-in for /usr/share/opensearch of the opensearchproject/opensearch:2.17.1
# image from OpenSearch 2.17.1 artifacts on Maven Central, for the runtime
# harness that runs the generated pods on the real programs.
#
#   scripts/runtime-tools/opensearch.sh [--print-path] [CACHE]
#
# --print-path only prints where the tree is (or would be).
# CACHE defaults to $RUNTIME_CACHE, else <repo>/.cache/runtime. The tree is
# CACHE/opensearch-2.17.1-<hash>/home, <hash> being a short hash of this script,
# of everything under scripts/runtime-tools/opensearch/ and of the JDK path
# (OPENSEARCH_JDK, default /usr/lib/jvm/java-17-openjdk-<arch>); when it exists
# the script only prints it. The last line printed is OPENSEARCH_HOME=<path>.
# Maven's downloads go to CACHE/m2 (never ~/.m2). Needs mvn and a JDK 17
# (javac, for the security stand-in): installed with apt-get when missing.
#
# The tree, as the image has it:
#   lib/                 org.opensearch:opensearch:2.17.1 and its runtime closure,
#                        with opensearch-plugin-classloader (see opensearch/pom.xml)
#   modules/<name>/      the module's jar and the jars it needs that lib/ lacks,
#                        plugin-descriptor.properties (written here from the
#                        module's build.gradle `opensearchplugin {}` values and
#                        PluginInfo's format) and, where the module has one,
#                        plugin-security.policy (opensearch/modules/<name>/)
#   plugins/opensearch-security/
#                        a stand-in, see opensearch/security-standin/: the image
#                        has the real security plugin and about twenty other
#                        plugins; the platform disables security, and without a
#                        plugin that registers plugins.security.disabled the
#                        node refuses the platform's opensearch.yml
#   config/              opensearch.yml, jvm.options, log4j2.properties
#                        (console only) as the image ships them; jvm.options.d/
#   bin/opensearch       the launcher (opensearch/bin/opensearch)
#   opensearch-docker-entrypoint.sh
#                        the image's ENTRYPOINT (run from /usr/share/opensearch)
#   jdk -> the host's JDK 17 (the image bundles JDK 21)
#   data/ logs/          empty, the pod's mount points
#
# Modules of the real 2.17.1 distribution that Maven Central does not serve
# (so absent here): cache-common (tiered spillover cache), opensearch-dashboards
# (the .kibana system-index APIs of OpenSearch Dashboards), systemd (sd_notify).
# Not served either: lib/opensearch-launchers (replaced by bin/opensearch),
# lib/tools/ (plugin, keystore and upgrade CLIs) and bin/'s other tools.
#
# The tree belongs to the user who built it and is readable by everyone; the
# node (uid 1000) cannot write to it, as with the pod's readOnlyRootFilesystem.

set -euo pipefail

VERSION=2.17.1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=$here/opensearch
print_path=0
if [ "${1:-}" = --print-path ]; then print_path=1; shift; fi
cache=${1:-${RUNTIME_CACHE:-$repo/.cache/runtime}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

# The JDK the tree's jdk symlink points to (the image bundles its own).
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
jdk=${OPENSEARCH_JDK:-/usr/lib/jvm/java-17-openjdk-$arch}

hash=$(
  {
    echo "jdk=$jdk"
    sha256sum <"${BASH_SOURCE[0]}"
    (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-12
)
dest=$cache/opensearch-$VERSION-$hash
if [ "$print_path" = 1 ]; then
  echo "$dest/home"
  exit 0
fi
if [ -d "$dest/home" ]; then
  echo "OPENSEARCH_HOME=$dest/home"
  exit 0
fi

# Modules: directory name | Maven artifactId (org.opensearch.plugin) |
# extended.plugins | description | classname. Values from each module's
# build.gradle (opensearch-project/OpenSearch modules/<name>/build.gradle,
# 2.17); every classname is checked against the jar below.
modules=(
  "aggs-matrix-stats|aggs-matrix-stats-client||Adds aggregations whose input are a list of numeric fields and output includes a matrix.|org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin"
  "analysis-common|analysis-common|lang-painless|Adds \"built in\" analyzers to OpenSearch.|org.opensearch.analysis.common.CommonAnalysisPlugin"
  "geo|geo||Plugin for geospatial features in OpenSearch. Registering the geo_shape and aggregations on GeoShape and GeoPoint|org.opensearch.geo.GeoModulePlugin"
  "ingest-common|ingest-common|lang-painless|Module for ingest processors that do not require additional security permissions or have large dependencies and resources|org.opensearch.ingest.common.IngestCommonPlugin"
  "ingest-geoip|ingest-geoip||Ingest processor that uses looksup geo data based on ip adresses using the Maxmind geo database|org.opensearch.ingest.geoip.IngestGeoIpPlugin"
  "ingest-user-agent|ingest-user-agent||Ingest processor that extracts information from a user agent|org.opensearch.ingest.useragent.IngestUserAgentPlugin"
  "lang-expression|lang-expression||Lucene expressions integration for OpenSearch|org.opensearch.script.expression.ExpressionPlugin"
  "lang-mustache|lang-mustache-client||Mustache scripting integration for OpenSearch|org.opensearch.script.mustache.MustachePlugin"
  "lang-painless|lang-painless||An easy, safe and fast scripting language for OpenSearch|org.opensearch.painless.PainlessPlugin"
  "mapper-extras|mapper-extras-client||Adds advanced field mappers|org.opensearch.index.mapper.MapperExtrasPlugin"
  "parent-join|parent-join-client||This module adds the support parent-child queries and aggregations|org.opensearch.join.ParentJoinPlugin"
  "percolator|percolator-client||Percolator module adds capability to index queries and query these queries by specifying documents|org.opensearch.percolator.PercolatorPlugin"
  "rank-eval|rank-eval-client||The Rank Eval module adds APIs to evaluate ranking quality.|org.opensearch.index.rankeval.RankEvalPlugin"
  "reindex|reindex-client||The Reindex module adds APIs to reindex from one index to another or update documents in place.|org.opensearch.index.reindex.ReindexPlugin"
  "repository-url|repository-url||Module for URL repository|org.opensearch.plugin.repository.url.URLRepositoryPlugin"
  "search-pipeline-common|search-pipeline-common|lang-painless|Module for search pipeline processors that do not require additional security permissions or have large dependencies and resources|org.opensearch.search.pipeline.common.SearchPipelineCommonModulePlugin"
  "transport-netty4|transport-netty4-client||Netty 4 based transport implementation|org.opensearch.transport.Netty4Plugin"
)

# --- tools -----------------------------------------------------------------

missing=()
command -v mvn >/dev/null || missing+=(maven)
[ -x "$jdk/bin/javac" ] || missing+=(openjdk-17-jdk-headless)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x "$jdk/bin/javac" ] || { echo "no JDK 17 at $jdk (set OPENSEARCH_JDK)" >&2; exit 1; }
export JAVA_HOME=$jdk

umask 022
work=$(mktemp -d "$cache/.opensearch-$VERSION-$hash.XXXXXX")
trap 'rm -rf "$work"' EXIT
home=$work/home

# --- Maven: one reactor child per target directory --------------------------

reactor=$work/reactor
mkdir -p "$reactor"
cp "$src/pom.xml" "$reactor/pom.xml"
# child NAME GROUP:ARTIFACT[:SCOPE]...
child() {
  local name=$1 dep g a s
  shift
  mkdir -p "$reactor/$name"
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<parent><groupId>invenio-gitops.runtime-tools</groupId><artifactId>opensearch-home</artifactId><version>2.17.1</version></parent>'
    echo "<artifactId>$name</artifactId><packaging>pom</packaging><dependencies>"
    for dep in "$@"; do
      IFS=: read -r g a s <<<"$dep"
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId>${s:+<scope>$s</scope>}</dependency>"
    done
    echo '</dependencies></project>'
  } >"$reactor/$name/pom.xml"
  echo "<module>$name</module>" >>"$reactor/modules.xml"
}
child lib org.opensearch:opensearch org.opensearch:opensearch-plugin-classloader \
  org.apache.logging.log4j:log4j-core \
  org.locationtech.spatial4j:spatial4j org.locationtech.jts:jts-core
for m in "${modules[@]}"; do
  IFS='|' read -r name artifact _ <<<"$m"
  extra=()
  [ "$name" = ingest-geoip ] && extra=(org.elasticsearch:geolite2-databases)
  child "$name" "org.opensearch.plugin:$artifact" "${extra[@]}" org.opensearch:opensearch:provided
done
sed -i "s#</properties>#</properties><modules>$(tr -d '\n' <"$reactor/modules.xml")</modules>#" "$reactor/pom.xml"

echo "resolving OpenSearch $VERSION from Maven Central into $cache/m2" >&2
stage=$work/stage
if ! mvn -q -B -Dstyle.color=never -f "$reactor/pom.xml" -Dmaven.repo.local="$cache/m2" \
  -Dstage="$stage" dependency:copy-dependencies >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  exit 1
fi

# --- lib/ and modules/ -------------------------------------------------------

mkdir -p "$home/lib" "$home/modules"
cp "$stage"/lib/*.jar "$home/lib/"
# base name of a jar: artifactId without the version
jar_base() { basename "$1" | sed -E 's/-[0-9][^-]*(-[0-9][^-]*)?\.jar$//'; }
declare -A in_lib
for j in "$home"/lib/*.jar; do in_lib[$(jar_base "$j")]=$(basename "$j"); done

for m in "${modules[@]}"; do
  IFS='|' read -r name artifact extended description classname <<<"$m"
  dir=$home/modules/$name
  mkdir -p "$dir"
  for j in "$stage/$name"/*.jar; do
    b=$(jar_base "$j")
    if [ -n "${in_lib[$b]:-}" ]; then
      # What the server has is not bundled (the server is compileOnly for modules).
      if [ "${in_lib[$b]}" != "$(basename "$j")" ]; then
        echo "$name needs $(basename "$j") but lib/ has ${in_lib[$b]}" >&2
        exit 1
      fi
      continue
    fi
    if [ "$b" = geolite2-databases ]; then
      # The module bundles the GeoLite2 databases themselves, not their jar.
      mkdir -p "$work/geolite2"
      (cd "$work/geolite2" && "$jdk/bin/jar" xf "$j")
      cp "$work"/geolite2/*.mmdb "$dir/"
      continue
    fi
    cp "$j" "$dir/"
  done
  main=$dir/$artifact-$VERSION.jar
  [ -f "$main" ] || { echo "$name: no $artifact-$VERSION.jar" >&2; exit 1; }
  if ! "$jdk/bin/jar" tf "$main" | grep -qx "${classname//.//}.class"; then
    echo "$name: $classname is not in $(basename "$main")" >&2
    exit 1
  fi
  cat >"$dir/plugin-descriptor.properties" <<EOF
# Written by invenio-gitops scripts/runtime-tools/opensearch.sh with the values
# of the OpenSearch $VERSION distribution's descriptor for this module.
description=$description
version=$VERSION
name=$name
classname=$classname
java.version=11
opensearch.version=$VERSION
custom.foldername=
extended.plugins=$extended
has.native.controller=false
EOF
  if [ -d "$src/modules/$name" ]; then cp "$src/modules/$name"/* "$dir/"; fi
done

# --- plugins/opensearch-security (stand-in) ----------------------------------

plugin=$home/plugins/opensearch-security
mkdir -p "$plugin" "$work/classes"
"$jdk/bin/javac" --release 11 -nowarn -cp "$home/lib/*" -d "$work/classes" \
  "$src/security-standin/SecurityStandInPlugin.java"
"$jdk/bin/jar" --create --date=2024-10-01T00:00:00Z \
  --file "$plugin/opensearch-security-standin-2.17.1.0.jar" -C "$work/classes" .
cp "$src/security-standin/plugin-descriptor.properties" "$plugin/"

# --- config, bin, entrypoint, jdk ---------------------------------------------

mkdir -p "$home/config/jvm.options.d" "$home/bin" "$home/data" "$home/logs"
cp "$src/config/opensearch.yml" "$src/config/jvm.options" "$src/config/log4j2.properties" "$home/config/"
install -m 755 "$src/bin/opensearch" "$home/bin/opensearch"
install -m 755 "$src/opensearch-docker-entrypoint.sh" "$home/opensearch-docker-entrypoint.sh"
ln -s "$jdk" "$home/jdk"

chmod -R a+rX,go-w "$home"
# Same bytes and times on every build.
find "$home" -exec touch -h -d 2024-10-01T00:00:00Z {} +

mkdir -p "$dest"
# A build that finished first in parallel wins; its tree is the same.
mv -T "$home" "$dest/home" 2>/dev/null || [ -d "$dest/home" ]
echo "OPENSEARCH_HOME=$dest/home"
