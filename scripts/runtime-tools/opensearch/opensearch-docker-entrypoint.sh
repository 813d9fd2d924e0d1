#!/bin/bash
# Stand-in for /usr/share/opensearch/opensearch-docker-entrypoint.sh of the
# opensearchproject/opensearch:2.17.1 image, written for invenio-gitops' runtime
# harness (not copied). It reproduces opensearch-project/opensearch-build
# docker/release/config/opensearch/opensearch-docker-entrypoint-2.x.sh as it was
# on main when 2.17.1 was released (commit a17589a4f of 2024-05-15 is its last
# change before then), which docker/release/dockerfiles/opensearch.al2023.dockerfile
# installs as the image's ENTRYPOINT ["./opensearch-docker-entrypoint.sh"], with
# CMD ["opensearch"], WORKDIR /usr/share/opensearch and
# PATH=$PATH:/usr/share/opensearch/jdk/bin:/usr/share/opensearch/bin:
#
#   - no argument, or a first argument starting with "-": "opensearch" is put
#     in front; a first argument other than "opensearch" is exec'd as it is;
#   - for "opensearch": OPENSEARCH_HOME=/usr/share/opensearch and
#     OPENSEARCH_PATH_CONF=$OPENSEARCH_HOME/config are exported,
#     -Dopensearch.cgroups.hierarchy.override=/ is put before OPENSEARCH_JAVA_OPTS,
#     umask 0002, uid 0 is refused, every environment variable named like a
#     setting (two dot-separated lowercase words, or "processors") with a
#     non-empty value becomes -E<name>=<value>;
#   - the security plugin (plugins/opensearch-security present):
#     DISABLE_SECURITY_PLUGIN=true adds -Eplugins.security.disabled=true;
#     otherwise the demo configuration is installed unless
#     DISABLE_INSTALL_DEMO_CONFIG=true (this tree has no install_demo_configuration.sh,
#     so that fails, and the entrypoint exits 1 as the real one does when the
#     tool fails);
#   - the Performance Analyzer agent is started in the background unless
#     DISABLE_PERFORMANCE_ANALYZER_AGENT_CLI=true, when its plugin is present
#     (it is not in this tree);
#   - finally `exec "$@" <the -E options>`: OpenSearch replaces this shell, so
#     it is the container's main process and gets the kubelet's SIGTERM.
#     (An unmerged opensearch-build pull request, refs/pull/4407, has a version
#     of this file without exec; it never shipped.)
#
# Like the image, the paths are fixed: the tree must be at /usr/share/opensearch.

# Export OpenSearch Home
export OPENSEARCH_HOME=/usr/share/opensearch
export OPENSEARCH_PATH_CONF=$OPENSEARCH_HOME/config

# Read cgroup statistics from the container's own hierarchy root.
export OPENSEARCH_JAVA_OPTS="-Dopensearch.cgroups.hierarchy.override=/ $OPENSEARCH_JAVA_OPTS"

setup_security_plugin() {
    local plugin=opensearch-security
    if [ ! -d "$OPENSEARCH_HOME/plugins/$plugin" ]; then
        echo "OpenSearch Security Plugin does not exist, disable by default"
        return
    fi
    if [ "$DISABLE_SECURITY_PLUGIN" = "true" ]; then
        echo "Disabling OpenSearch Security Plugin"
        opensearch_opts+=("-Eplugins.security.disabled=true")
        return
    fi
    echo "Enabling OpenSearch Security Plugin"
    if [ "$DISABLE_INSTALL_DEMO_CONFIG" = "true" ]; then
        echo "Disabling execution of install_demo_configuration.sh for OpenSearch Security Plugin"
    else
        echo "Enabling execution of install_demo_configuration.sh for OpenSearch Security Plugin (needs OPENSEARCH_INITIAL_ADMIN_PASSWORD)"
        bash "$OPENSEARCH_HOME/plugins/$plugin/tools/install_demo_configuration.sh" -y -i -s || exit 1
    fi
}

setup_performance_analyzer_plugin() {
    local plugin=opensearch-performance-analyzer
    if [ ! -d "$OPENSEARCH_HOME/plugins/$plugin" ]; then
        echo "OpenSearch Performance Analyzer Plugin does not exist, disable by default"
        return
    fi
    if [ "$DISABLE_PERFORMANCE_ANALYZER_AGENT_CLI" = "true" ]; then
        echo "Disabling execution of $OPENSEARCH_HOME/bin/$plugin/performance-analyzer-agent-cli for OpenSearch Performance Analyzer Plugin"
    else
        echo "Enabling execution of $OPENSEARCH_HOME/bin/$plugin/performance-analyzer-agent-cli for OpenSearch Performance Analyzer Plugin"
        "$OPENSEARCH_HOME/bin/$plugin/performance-analyzer-agent-cli" >"$OPENSEARCH_HOME/logs/PerformanceAnalyzer.log" 2>&1 &
        disown
    fi
}

run_opensearch() {
    # Files OpenSearch creates are group-writable.
    umask 0002

    if [[ "$(id -u)" == "0" ]]; then
        echo "OpenSearch cannot run as root. Please start your container as another user."
        exit 1
    fi

    # cluster.name=x in the environment becomes -Ecluster.name=x.
    opensearch_opts=()
    local key value
    while IFS='=' read -r key value; do
        if [[ "$key" =~ ^[a-z0-9_]+\.[a-z0-9_]+ || "$key" == "processors" ]]; then
            if [[ -n $value ]]; then
                opensearch_opts+=("-E${key}=${value}")
            fi
        fi
    done < <(env)

    setup_security_plugin
    setup_performance_analyzer_plugin

    exec "$@" "${opensearch_opts[@]}"
}

if [ $# -eq 0 ] || [ "${1:0:1}" = '-' ]; then
    set -- opensearch "$@"
fi

if [ "$1" = "opensearch" ]; then
    run_opensearch "$@"
else
    exec "$@"
fi
