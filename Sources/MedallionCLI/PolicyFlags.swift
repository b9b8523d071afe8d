import ArgumentParser
import MedallionCore

/// The tenant and event-type flags of the filters that check envelopes
/// (envelope-check, bronze-sink): one declaration, one validation, one policy.
package struct PolicyFlags: ParsableArguments {
    @Option(name: .long, help: "The pipeline's tenant: a record of any other tenant is a tenant_mismatch reject.")
    package var tenant: String?

    @Option(name: .long, help: ArgumentHelp("Tenants a shared stream may carry (comma-separated): any other is an unknown_tenant reject.", valueName: "list"))
    package var tenants: String?

    @Option(name: .long, help: ArgumentHelp("Enabled event types (comma-separated); default: any safe name, or the tenant's list with --config.", valueName: "list"))
    package var eventTypes: String?

    package init() {}

    package func validate() throws {
        for name in [tenant].compactMap({ $0 }) + (commaList(tenants) ?? []) + (commaList(eventTypes) ?? [])
        where !EnvelopePolicy.isSafeID(name) {
            throw ValidationError("'\(name)' is not a valid tenant or event type name; use [a-z0-9][a-z0-9._-]{0,63}")
        }
    }

    /// Flags win over the tree: a flag given by hand is the more specific intent.
    package func policy(settings: TenantSettings?) -> EnvelopePolicy {
        EnvelopePolicy(pipelineTenant: tenant, allowedTenants: commaList(tenants),
                       allowedEventTypes: commaList(eventTypes) ?? settings?.eventTypes)
    }
}
