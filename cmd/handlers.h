#pragma once
// Setup functions of every command, one group per family file. Only commands.cc (the
// table) refers to them.

#include "cmd/commands.h"

namespace euca::cmd {

// cmd/help.cc
Handler SetupHelp(CLI::App& app);
Handler SetupVersion(CLI::App& app);

// cmd/bundle.cc
Handler SetupBundleImage(CLI::App& app);
Handler SetupUnbundle(CLI::App& app);

// cmd/bundle_storage.cc
Handler SetupUploadBundle(CLI::App& app);
Handler SetupDownloadBundle(CLI::App& app);
Handler SetupDeleteBundle(CLI::App& app);

// cmd/admin_init.cc
Handler SetupAdminInit(CLI::App& app);

// cmd/admin_accounts.cc
Handler SetupCreateAccount(CLI::App& app);
Handler SetupDescribeAccounts(CLI::App& app);
Handler SetupCreateUser(CLI::App& app);
Handler SetupDisableUser(CLI::App& app);
Handler SetupEnableUser(CLI::App& app);
Handler SetupDeleteUser(CLI::App& app);
Handler SetupDescribeUsers(CLI::App& app);
Handler SetupGetCredentials(CLI::App& app);

// cmd/admin_signups.cc
Handler SetupSignup(CLI::App& app);
Handler SetupDescribeSignups(CLI::App& app);
Handler SetupApproveSignup(CLI::App& app);
Handler SetupRejectSignup(CLI::App& app);

// cmd/admin_properties.cc
Handler SetupDescribeProperties(CLI::App& app);
Handler SetupModifyProperty(CLI::App& app);

// cmd/compute_instances.cc
Handler SetupRunInstances(CLI::App& app);
Handler SetupDescribeInstances(CLI::App& app);
Handler SetupTerminateInstances(CLI::App& app);
Handler SetupRebootInstances(CLI::App& app);
Handler SetupGetConsoleOutput(CLI::App& app);
Handler SetupDescribeAvailabilityZones(CLI::App& app);

// cmd/admin_vm_types.cc
Handler SetupDescribeVmTypes(CLI::App& app);
Handler SetupModifyVmType(CLI::App& app);

// cmd/sla.cc
Handler SetupDescribeRules(CLI::App& app);
Handler SetupPutRule(CLI::App& app);
Handler SetupDeleteRule(CLI::App& app);
Handler SetupModifyAccount(CLI::App& app);
Handler SetupCleanup(CLI::App& app);
Handler SetupDescribeLeases(CLI::App& app);
Handler SetupRenewLease(CLI::App& app);

// cmd/admin_history.cc
Handler SetupHistory(CLI::App& app);
Handler SetupShow(CLI::App& app);
Handler SetupDiff(CLI::App& app);
Handler SetupRollback(CLI::App& app);

// cmd/admin_topology.cc
Handler SetupRegisterCluster(CLI::App& app);
Handler SetupDeregisterCluster(CLI::App& app);
Handler SetupDescribeClusters(CLI::App& app);
Handler SetupRegisterNode(CLI::App& app);
Handler SetupDeregisterNode(CLI::App& app);
Handler SetupDescribeNodes(CLI::App& app);

// cmd/serve.cc
Handler SetupServeWalrus(CLI::App& app);
Handler SetupServeNc(CLI::App& app);
Handler SetupServeCc(CLI::App& app);
Handler SetupServeClc(CLI::App& app);

// cmd/compute_keys.cc
Handler SetupCreateKeypair(CLI::App& app);
Handler SetupImportKeypair(CLI::App& app);
Handler SetupDescribeKeypairs(CLI::App& app);
Handler SetupDeleteKeypair(CLI::App& app);
Handler SetupDescribeRegions(CLI::App& app);

// cmd/network_groups.cc
Handler SetupCreateGroup(CLI::App& app);
Handler SetupDeleteGroup(CLI::App& app);
Handler SetupDescribeGroups(CLI::App& app);
Handler SetupAuthorize(CLI::App& app);
Handler SetupRevoke(CLI::App& app);

// cmd/network_addresses.cc
Handler SetupAllocateAddress(CLI::App& app);
Handler SetupAssociateAddress(CLI::App& app);
Handler SetupDisassociateAddress(CLI::App& app);
Handler SetupReleaseAddress(CLI::App& app);
Handler SetupDescribeAddresses(CLI::App& app);

// cmd/compute_images.cc
Handler SetupRegister(CLI::App& app);
Handler SetupDeregister(CLI::App& app);
Handler SetupDescribeImages(CLI::App& app);
Handler SetupDescribeImageAttribute(CLI::App& app);
Handler SetupModifyImageAttribute(CLI::App& app);

// cmd/compute_capacity.cc
Handler SetupCreateCapacityReservation(CLI::App& app);
Handler SetupDescribeCapacityReservations(CLI::App& app);
Handler SetupCancelCapacityReservation(CLI::App& app);

// cmd/tools.cc (hidden build tooling)
Handler SetupSymlinks(CLI::App& app);
Handler SetupManPages(CLI::App& app);
Handler SetupCompletions(CLI::App& app);

}  // namespace euca::cmd
