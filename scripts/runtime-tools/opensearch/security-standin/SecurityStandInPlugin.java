/*
 * Stand-in for the OpenSearch Security plugin (plugins/opensearch-security) of
 * the opensearchproject/opensearch:2.17.1 image, written for invenio-gitops'
 * runtime harness. The real plugin (org.opensearch.plugin:opensearch-security
 * 2.17.1.0) is not on Maven Central.
 *
 * The platform runs the image with the plugin disabled
 * (plugins.security.disabled: true in opensearch.yml, and the entrypoint adds
 * -Eplugins.security.disabled=true for DISABLE_SECURITY_PLUGIN=true). OpenSearch
 * rejects a setting that no installed plugin registers, so without a plugin
 * named opensearch-security that registers it the node would not start with
 * the platform's configuration. This plugin registers that one setting and
 * nothing else. It cannot stand in for an enabled security plugin, so it stops
 * the node unless the setting is true.
 */
package standin.opensearch.security;

import org.apache.logging.log4j.LogManager;
import org.opensearch.common.settings.Setting;
import org.opensearch.common.settings.Settings;
import org.opensearch.plugins.Plugin;

import java.util.List;

public final class SecurityStandInPlugin extends Plugin {

    static final Setting<Boolean> DISABLED = Setting.boolSetting(
        "plugins.security.disabled",
        false,
        Setting.Property.NodeScope,
        Setting.Property.Filtered
    );

    public SecurityStandInPlugin(Settings settings) {
        if (DISABLED.get(settings) == false) {
            throw new IllegalStateException(
                "this opensearch-security is a stand-in that only supports plugins.security.disabled: true;"
                    + " the real OpenSearch Security plugin is not in this tree"
            );
        }
        LogManager.getLogger(SecurityStandInPlugin.class)
            .warn("OpenSearch Security plugin stand-in installed, security disabled (plugins.security.disabled: true)");
    }

    @Override
    public List<Setting<?>> getSettings() {
        return List.of(DISABLED);
    }
}
