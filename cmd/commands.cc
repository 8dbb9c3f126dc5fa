#include "cmd/commands.h"

#include <algorithm>
#include <limits>

#include "cmd/handlers.h"

namespace euca::cmd {
namespace {

// Descriptions are man page text: paragraphs separated by a blank line; a paragraph whose
// lines start with two spaces is shown verbatim. Keep summaries short and lower case.
const std::vector<CommandSpec> kCommands = {
    {"help",
     "show the commands, or the usage of one command",
     "With no COMMAND, lists every command with its summary. With a COMMAND (\"admin init\", "
     "\"admin-init\" or a program name such as \"euca-admin-init\"), prints that command's usage "
     "and options, the same text as \"euca COMMAND --help\".",
     {},
     &SetupHelp},
    {"version",
     "print the version of euca",
     "Prints \"euca VERSION\", the same as \"euca --version\".",
     {},
     &SetupVersion},
    {"signup",
     "request a new account",
     "Records a request for a new account ACCOUNT whose first user (--user, default \"admin\") is "
     "reached at EMAIL. A cloud administrator lists the requests with \"euca admin "
     "describe-signups\" and decides with \"euca admin approve-signup\" or \"euca admin "
     "reject-signup\"; approval creates the account and its first user. Anybody may ask: no "
     "credentials are needed.\n\n"
     "Prints the request:\n\n"
     "  SIGNUP\\tid\\taccount\\tuser\\temail\\tstatus",
     {},
     &SetupSignup},
    {"bundle-image",
     "bundle an image: compress, encrypt and split it, with a signed manifest",
     "Packs the image FILE (-i) the way euca2ools and EC2 do (manifest version 2007-10-10): one tar "
     "member, gzip, AES-128-CBC with a random key, cut into parts of 10 MiB (--part-size) named "
     "PREFIX.part.NN, and PREFIX.manifest.xml, which holds the part digests and the key "
     "encrypted for the user's certificate and for the cloud's, and is signed with the user's "
     "private key. The image is read once; sparse images are read without their holes.\n\n"
     "The credentials come from the flags, else from the environment a eucarc sets: -c from "
     "EC2_CERT, -k from EC2_PRIVATE_KEY, -u from EC2_USER_ID, --ec2cert from EUCALYPTUS_CERT "
     "(else EUCA_HOME/keys/cloud-cert.pem). When none of -c, -k and -u is given either way and "
     "EUCA_HOME holds a cloud, the cloud administrator's certificate, key and account are used, "
     "so that \"euca bundle-image -i FILE\" is enough.\n\n"
     "Without -d the bundle goes into a new folder bundle-XXXXXX in TMPDIR, else /var/tmp. "
     "The parts are written in a temporary folder and renamed into place at the end, the "
     "manifest last: on any failure nothing is left at the destination. Prints:\n\n"
     "  Wrote manifest DIR/PREFIX.manifest.xml\n\n"
     "With --debug the parts are listed on stderr. While it works, a progress bar is drawn on "
     "stderr when stderr is a terminal, unless --quiet.",
     {},
     &SetupBundleImage},
    {"unbundle",
     "unpack a bundle into its image",
     "Unpacks the bundle described by MANIFEST (-m): checks the SHA-1 of every part as it "
     "streams by, decrypts, gunzips and untars, and checks the image's digest and size against "
     "the manifest. The image is written to a temporary file in the destination (-d, default "
     "the current folder) and renamed to its name only when everything matched: on any failure "
     "nothing is left there. The parts are read from -s, default the manifest's folder.\n\n"
     "The private key (-k, else EC2_PRIVATE_KEY) may be the user's the bundle was made for or "
     "the cloud's (EUCA_HOME/keys/cloud-pk.pem). The manifest's signature is checked against "
     "the certificate -c, else against EC2_CERT when that is the private key's certificate. When "
     "neither -k nor -c is given either way and EUCA_HOME holds a cloud, the cloud "
     "administrator's key and certificate are used. Prints:\n\n"
     "  Wrote DIR/IMAGE\n\n"
     "A tampered part fails naming the part and both digests (exit status 2), a missing part "
     "naming it (3), a manifest that does not match its signature with exit status 7, and a "
     "private key that cannot decrypt the bundle with exit status 2.",
     {},
     &SetupUnbundle},
    {"upload-bundle",
     "upload a bundle into a bucket of the object store",
     "Uploads the parts named in the bundle's manifest MANIFEST (-m; the parts are read from -d, "
     "default the manifest's folder), four at a time, each with its Content-MD5, then the "
     "manifest last, to BUCKET/PREFIX/NAME (-b BUCKET[/PREFIX]). The bucket is created if it "
     "does not exist, with --location as its location constraint. Uploading again resumes: a "
     "part already stored with the same size and MD5 (its ETag) is skipped (--debug says so). "
     "--part N starts with part N (euca2ools 1.x); --skipmanifest uploads the parts only and "
     "prints nothing; --retry tries a part whose upload failed (connection, server error) up to "
     "5 more times. Prints:\n\n"
     "  Uploaded BUCKET/PREFIX/NAME.manifest.xml\n\n"
     "--acl takes euca2ools' choices, sent as the canned ACL of every object: aws-exec-read "
     "(the default) and ec2-bundle-read grant read to the cloud's system account "
     "(eucalyptus), as S3 grants EC2; public-read, private and authenticated-read are "
     "accepted too. --upload-policy, --upload-policy-file "
     "and --upload-policy-signature (POST policy uploads) are refused (exit status 9), and so "
     "is euca2ools 1.x's --ec2cert (give it to bundle-image).\n\n"
     "Where the bundle goes: with -U/--url URL, or S3_URL, the S3 endpoint there (euca serve "
     "walrus, or any S3; http://HOST:PORT, with or without /services/objectstorage or "
     "/services/Walrus), signed (SigV4, region from --region, else the cloud of EUCA_HOME, "
     "else us-east-1) with the access key of -I/-S (1.x: -a/-s), else AWS_ACCESS_KEY_ID/"
     "AWS_SECRET_ACCESS_KEY or EC2_ACCESS_KEY/EC2_SECRET_KEY, else the eucarc of EUCA_HOME; "
     "without a key the requests are anonymous. Otherwise the embedded object store of "
     "EUCA_HOME (HOME/walrus), as the user of that key (else the cloud administrator).\n\n"
     "Errors carry the store's message and code: a bad bucket name exit status 2, a wrong "
     "secret or unknown key 7, another account's bucket 6, a server that cannot be reached 10. "
     "A progress bar over all bytes is drawn on stderr when stderr is a terminal, unless "
     "--quiet.",
     {},
     &SetupUploadBundle},
    {"download-bundle",
     "download a bundle from a bucket of the object store",
     "Downloads the manifest BUCKET/PREFIX/NAME (-b BUCKET[/PREFIX] and -m NAME, or -p P for "
     "P.manifest.xml; or reads the manifest FILE on this machine, --local-manifest), then each "
     "part it names, checking every part's SHA-1 against the manifest as it streams by. The "
     "parts and the manifest are written to temporary files in the destination folder (-d, "
     "default the current folder) and renamed into place only when all of them arrived intact: "
     "on any failure nothing is left there. Prints:\n\n"
     "  Wrote manifest DIR/NAME\n\n"
     "With -d - the parts are written, in order, to standard output and nothing is printed. "
     "The store and the credentials are chosen as for upload-bundle (-U or S3_URL: S3; "
     "otherwise EUCA_HOME). A corrupt stored part fails naming the part and both digests (exit "
     "status 2); a missing bundle fails with exit status 3; another account's bundle with exit "
     "status 6.",
     {},
     &SetupDownloadBundle},
    {"delete-bundle",
     "delete a bundle from a bucket of the object store",
     "Reads the manifest BUCKET/PREFIX/NAME (-b BUCKET[/PREFIX] and -m NAME, or -p P for "
     "P.manifest.xml; or the manifest FILE on this machine, --local-manifest), deletes every "
     "part it names, then the manifest object. With --clear the bucket is deleted too when "
     "nothing else is left in it (otherwise a note on stderr says it was kept). The store and "
     "the credentials are chosen as for upload-bundle. Prints nothing.",
     {},
     &SetupDeleteBundle},

    {"admin init",
     "create a cloud in EUCA_HOME",
     "Creates a new cloud in the home folder (--home, else EUCA_HOME, else ~/.euca), mode 0700: "
     "the state database and its history, the cloud certificate authority, the cloud and "
     "component certificates, the account \"eucalyptus\" with its user \"admin\" and an access "
     "key, and the file eucarc that exports the credentials and endpoints.\n\n"
     "Prints what was created, one \"name: value\" line each (home, account, account_id, user, "
     "user_id, access_key_id, eucarc), then how to use it. The secret key is never printed: it is "
     "in eucarc (mode 0600). Run \"source HOME/eucarc\" to use the credentials from a shell.\n\n"
     "An existing cloud is refused (exit status 4) unless --force is given, which first moves "
     "the old cloud aside into a backup folder of the home (keys are never deleted) and prints "
     "it as \"backup: DIR\".\n\n"
     "--hypervisor and --accel choose how the embedded node controller runs VMs (the properties "
     "nc.hypervisor and nc.accel): qemu:///system with KVM when it works, else QEMU's software "
     "emulation, by default; test:///default or fake:// run a cloud without real VMs. A bad value "
     "is refused before anything is created.",
     {},
     &SetupAdminInit},
    {"admin create-account",
     "create an account",
     "Creates the account NAME (lower-case letters, digits, \".\" and \"-\", at most 63 "
     "characters, starting with a letter or digit) with its first user \"admin\" and that "
     "user's access key; \"euca admin get-credentials admin --account NAME\" hands them out. "
     "Prints:\n\n"
     "  ACCOUNT\\tname\\tid",
     {},
     &SetupCreateAccount},
    {"admin describe-accounts",
     "list accounts",
     "Prints every account, one line each:\n\n"
     "  ACCOUNT\\tname\\tid",
     {},
     &SetupDescribeAccounts},
    {"admin create-user",
     "create a user with an access key",
     "Creates the user NAME in ACCOUNT (default \"eucalyptus\") with one active access key. "
     "Users of the account \"eucalyptus\" are cloud administrators. Prints:\n\n"
     "  USER\\taccount\\tname\\tid\\tenabled\n"
     "  ACCESSKEY\\tid\\tsecret\n\n"
     "The secret key is shown only this once; \"euca admin get-credentials\" writes it into a "
     "credentials file later.",
     {},
     &SetupCreateUser},
    {"admin disable-user",
     "disable a user",
     "Disables the user NAME of ACCOUNT (default \"eucalyptus\"): its access keys stop "
     "authenticating until \"euca admin enable-user\". Prints nothing.",
     {},
     &SetupDisableUser},
    {"admin enable-user",
     "enable a disabled user",
     "Enables the user NAME of ACCOUNT (default \"eucalyptus\") again. Prints nothing.",
     {},
     &SetupEnableUser},
    {"admin delete-user",
     "delete a user with its keys and certificates",
     "Deletes the user NAME of ACCOUNT (default \"eucalyptus\") with its access keys and "
     "certificates. The user \"admin\" of the account \"eucalyptus\" cannot be deleted (exit "
     "status 5). \"euca admin rollback\" to a revision before the deletion brings the user back "
     "with its keys. Prints nothing.",
     {},
     &SetupDeleteUser},
    {"admin describe-users",
     "list users and their access keys",
     "Prints the users of ACCOUNT (of every account without --account), each followed by its "
     "access keys:\n\n"
     "  USER\\taccount\\tname\\tid\\tenabled\n"
     "  ACCESSKEY\\tid\\tActive|Inactive",
     {},
     &SetupDescribeUsers},
    {"admin get-credentials",
     "write a user's credentials zip",
     "Issues a new X.509 certificate and private key for the user NAME of ACCOUNT (default "
     "\"eucalyptus\") and writes a zip file FILE (mode 0600) holding eucarc, iamrc, "
     "cloud-cert.pem and the user's certificate and private key. FILE appears whole or not at "
     "all; an existing FILE is replaced. Prints:\n\n"
     "  CREDENTIALS\\taccount\\tuser\\tfile",
     {},
     &SetupGetCredentials},
    {"admin describe-signups",
     "list account requests",
     "Prints every account request made with \"euca signup\":\n\n"
     "  SIGNUP\\tid\\taccount\\tuser\\temail\\tstatus\n\n"
     "where status is pending, approved or rejected.",
     {},
     &SetupDescribeSignups},
    {"admin approve-signup",
     "approve an account request",
     "Approves the pending request ID: creates its account and first user. Prints the request "
     "as a SIGNUP line (see \"euca admin describe-signups\").",
     {},
     &SetupApproveSignup},
    {"admin reject-signup",
     "reject an account request",
     "Rejects the pending request ID. Prints the request as a SIGNUP line (see \"euca admin "
     "describe-signups\").",
     {},
     &SetupRejectSignup},
    {"admin describe-properties",
     "list cloud properties",
     "Prints the cloud properties whose names start with one of the PREFIXes (every property "
     "without PREFIX), sorted by name:\n\n"
     "  PROPERTY\\tname\\tvalue\n\n"
     "A PREFIX that matches no property is an error (exit status 3).",
     {"euca-describe-properties"},
     &SetupDescribeProperties},
    {"admin modify-property",
     "change cloud properties",
     "Sets each property NAME to VALUE. Every value is checked against its property's type "
     "first: if one is invalid, nothing changes. All assignments are applied together, as one "
     "history commit. The euca2ools form \"-p NAME=VALUE\" is accepted too. Prints, per "
     "property:\n\n"
     "  PROPERTY\\tname\\tnew-value\\twas: old-value",
     {"euca-modify-property"},
     &SetupModifyProperty},
    {"admin describe-vm-types",
     "list the VM types instances come in",
     "Prints the VM types (all, or those NAMEd) in the order describe-availability-zones "
     "verbose lists them:\n\n"
     "  VMTYPE\\tname\\tcores\\tmemory-MiB\\tdisk-GiB\n\n"
     "Until an administrator changes one, the Eucalyptus defaults apply: m1.small 1/256/5, "
     "c1.medium 2/512/10, m1.large 2/512/10, m1.xlarge 2/1024/10, c1.xlarge 2/2048/10. An unknown "
     "NAME is an error (exit status 3).",
     {"euca-describe-instance-types"},
     &SetupDescribeVmTypes},
    {"admin modify-vm-type",
     "change the size of a VM type",
     "Changes the cores (-c), memory in MiB (-m) and local disk in GiB (-d) of the VM type NAME, "
     "as one history commit; the sizes not given stay. Instances already running keep their "
     "size. Only a cloud administrator may do this. Limits: 1 to 256 cores, 32 MiB to 4 TiB of "
     "memory, 1 GiB to 64 TiB of disk; a value out of range changes nothing (exit status 2), an "
     "unknown NAME neither (exit status 3). Prints the type and what it was:\n\n"
     "  VMTYPE\\tname\\tcores\\tmemory-MiB\\tdisk-GiB\\twas: cores/memory/disk",
     {"euca-modify-instance-type"},
     &SetupModifyVmType},
    {"admin history",
     "list the committed changes",
     "Prints one line per committed change, newest first:\n\n"
     "  COMMIT\\trev\\ttime\\tprincipal\\taction\\trequest-id\n\n"
     "where principal is who made the change (user@account) and time is ISO 8601 UTC. --object "
     "lists only the commits that touched one object, named KIND/ID (\"users/AIDA...\") or by a "
     "bare id with a known prefix (\"AKIA...\").",
     {},
     &SetupHistory},
    {"admin show",
     "show one committed change",
     "Prints the COMMIT line of REV (see \"euca admin history\") followed by a unified diff of "
     "the objects it changed. Secret keys never appear in history: only a redacted marker.",
     {},
     &SetupShow},
    {"admin diff",
     "compare two revisions",
     "Prints a unified diff of the objects from revision REV to revision REV2 (default: the "
     "newest commit).",
     {},
     &SetupDiff},
    {"admin rollback",
     "restore objects to a past revision",
     "Restores the declarative objects (accounts, users, access keys, certificates, sign-ups, "
     "properties) to their state at revision REV, as one new commit: history is never "
     "rewritten. --object (repeatable) restores only the named objects. Runtime objects such as "
     "instances are reported as not-restorable and left alone. A restored user gets its access "
     "keys back, secrets included. When security groups, their rules, public addresses or "
     "network.* properties change, the cloud's network state is applied to the host again, as "
     "after any such change (a failure is reported; the rollback stands).\n\n"
     "Prints one line per change:\n\n"
     "  ROLLBACK\\tkind\\tid\\twhat\n\n"
     "where what is restore, delete, recreate or not-restorable. With --dry-run it prints the "
     "same lines and changes nothing.",
     {},
     &SetupRollback},
    {"admin register-cluster",
     "register a cluster (availability zone)",
     "Registers the cluster NAME, which becomes an availability zone of the cloud. With URL "
     "(http://HOST:8774), the cloud controller reaches the cluster controller there (\"euca "
     "serve cc\"); without, it runs the cluster controller itself, over the nodes registered "
     "with \"euca admin register-node\". While no cluster is registered, the cloud has one "
     "zone, named by the property cloud.embedded-zone, whose node runs inside the cloud "
     "controller. NAME: 1 to 63 letters, digits, '.', '_' and '-'. One history commit. "
     "Prints:\n\n"
     "  CLUSTER\\tname\\turl",
     {"euca-register-cluster"},
     &SetupRegisterCluster},
    {"admin deregister-cluster",
     "deregister a cluster",
     "Removes the cluster NAME from the cloud. A cluster that still has nodes is refused "
     "(exit status 5): deregister its nodes first. Instances on it are not touched. One "
     "history commit; prints nothing.",
     {"euca-deregister-cluster"},
     &SetupDeregisterCluster},
    {"admin describe-clusters",
     "list the registered clusters",
     "Prints the registered clusters in registration order, each asked whether it answers:\n\n"
     "  CLUSTER\\tname\\turl\\tnodes\\tstate\n\n"
     "where url is empty for a cluster the cloud controller runs itself, nodes the number of "
     "nodes registered in it, and state up or down.",
     {"euca-describe-clusters"},
     &SetupDescribeClusters},
    {"admin register-node",
     "register a node controller in a cluster",
     "Registers the node controller at URL (http://HOST:8775, \"euca serve nc\") in CLUSTER; "
     "its cluster controller places instances on it from its next poll. A URL belongs to one "
     "cluster only. One history commit. Prints:\n\n"
     "  NODE\\tcluster\\turl\\tid",
     {},
     &SetupRegisterNode},
    {"admin deregister-node",
     "deregister a node controller",
     "Removes the node controller at URL from CLUSTER; no new instance goes there. Instances "
     "on it keep running. One history commit; prints nothing.",
     {},
     &SetupDeregisterNode},
    {"admin describe-nodes",
     "list the node controllers and their free capacity",
     "Polls the registered clusters (or only CLUSTER) and prints each node their cluster "
     "controller has, in registration order:\n\n"
     "  NODE\\tcluster\\turl\\tstate\\tcores-free\\tcores-max\\tmemory-free\\tmemory-max\\t"
     "disk-free\\tdisk-max\\tinstances\\terror\n\n"
     "where state is up or down (the node did not answer: its capacity counts as zero; error "
     "says why), or unknown when its cluster controller does not answer; memory is in MiB, "
     "disk in GiB; free capacity counts instances placed but not yet started. Nothing is "
     "printed while no cluster is registered (the embedded zone's node belongs to the cloud "
     "controller's process).",
     {"euca-describe-nodes"},
     &SetupDescribeNodes},

    {"create-keypair",
     "create a key pair and print its private key",
     "Creates the key pair KEYPAIR in your account: the cloud makes a 2048-bit RSA key, keeps "
     "its public half (given to the instances you start with -k KEYPAIR) and returns the private "
     "key once; it is not stored anywhere else. Prints:\n\n"
     "  KEYPAIR\\tname\\tfingerprint\n\n"
     "followed by the private key (PEM), or, with -f FILE, writes the private key to FILE (mode "
     "0600) instead. The fingerprint is EC2's: the SHA-1 of the private key (PKCS#8 DER). A key "
     "of that name already in the account is an error (InvalidKeyPair.Duplicate).\n\n"
     "Runs in EUCA_HOME, or against the cloud controller at EC2_URL (or -U) with the access key "
     "of -I/-S or the environment; the same holds for every key pair, image and region command.",
     {"euca-add-keypair"},
     &SetupCreateKeypair},
    {"import-keypair",
     "import an OpenSSH public key as a key pair",
     "Imports the OpenSSH public key in FILE (-f; \"ssh-rsa AAAA... comment\", also ssh-ed25519 "
     "and ecdsa-sha2-*) as the key pair KEYPAIR of your account. Prints:\n\n"
     "  KEYPAIR\\tname\\tfingerprint\n\n"
     "where the fingerprint is EC2's for imported keys: the MD5 of the public key blob.",
     {},
     &SetupImportKeypair},
    {"describe-keypairs",
     "list key pairs",
     "Lists the key pairs of your account, or only those named (a named key that does not exist is "
     "an error, InvalidKeyPair.NotFound). --filter key-name=PATTERN or fingerprint=PATTERN narrows "
     "the list. A cloud administrator who names the keyword verbose sees every account's keys. "
     "Prints one line per key pair:\n\n"
     "  KEYPAIR\\tname\\tfingerprint",
     {},
     &SetupDescribeKeypairs},
    {"delete-keypair",
     "delete a key pair",
     "Deletes the key pair KEYPAIR of your account; as in EC2, deleting a key pair that does not "
     "exist succeeds. Instances started with it keep their key. Prints:\n\n"
     "  KEYPAIR\\tname",
     {},
     &SetupDeleteKeypair},
    {"describe-regions",
     "list the cloud's region",
     "Lists the region of the cloud (the property cloud.region) and its EC2 endpoint (the property "
     "services.ec2-url, empty when unset):\n\n"
     "  REGION\\tname\\tendpoint",
     {},
     &SetupDescribeRegions},
    {"create-group",
     "create a security group",
     "Creates the security group GROUP in your account with the description -d (both 1 to 255 "
     "printable characters; a name cannot start with sg-). Instances started with -g GROUP are in "
     "it; instances started without -g are in the group \"default\", which every account has and "
     "which allows all traffic from its own members. A group of that name already in the account "
     "is an error (InvalidGroup.Duplicate, exit status 4). Prints:\n\n"
     "  GROUP\\tsg-id\\tname\\tdescription\n\n"
     "NETWORK MODES. What a group means on the wire depends on the cloud property network.mode "
     "(\"euca admin modify-property network.mode=MANAGED\"; changed only while no instance runs):\n\n"
     "  SYSTEM          instances join the bridge network.bridge on the LAN; its DHCP\n"
     "                  gives the addresses; no filtering, no public addresses\n"
     "  STATIC          one flat network on network.bridge; instances get the MAC=IP\n"
     "                  pairs of network.mac-map; no filtering, no public addresses\n"
     "  MANAGED         each security group with instances is a network of its own:\n"
     "                  a block of network.addrs-per-net addresses of network.subnet/\n"
     "                  network.netmask and an 802.1Q VLAN tag on\n"
     "                  network.private-interface; traffic between networks is denied\n"
     "                  unless a rule (euca-authorize) allows it; public addresses\n"
     "                  (network.public-ips) by DNAT in and SNAT out\n"
     "  MANAGED-NOVLAN  MANAGED without VLAN tags (the default)\n\n"
     "In the MANAGED modes an instance sits in its first group's network: the group's block is "
     "network.subnet + (N-2) x network.addrs-per-net for the group's network number N (2, 3, ...; "
     "allocated on the group's first instance), the block's second address is the router, "
     "instances get the third and on, the last is the broadcast address; the instance's MAC is "
     "d0:0d: and the hex of its id. network.public-interface carries the public addresses, "
     "network.dns is handed out by DHCP, network.metadata-target is where 169.254.169.254:80 is "
     "redirected. network.driver says how the state is applied: plan (the default) renders and "
     "records it under EUCA_HOME/network without touching the host; linux applies it (bridges, "
     "VLAN devices, iptables, dnsmasq). \"euca admin describe-properties network.\" lists them all; "
     "euca-networking(7) tells the whole story.",
     {"euca-add-group"},
     &SetupCreateGroup},
    {"delete-group",
     "delete a security group",
     "Deletes the security group GROUP (name or sg-id) of your account. Refused while an "
     "instance that has not terminated is in it or a rule of another group names it as its "
     "source (InvalidGroup.InUse, exit status 5), and for the group \"default\"; an unknown group "
     "is exit status 3. Prints:\n\n"
     "  RETURN\\ttrue",
     {},
     &SetupDeleteGroup},
    {"describe-groups",
     "list security groups and their rules",
     "Lists the security groups of your account (the group \"default\" always among them), or "
     "only the GROUPs named (names or sg-ids; an unknown one is exit status 3). --filter "
     "NAME=VALUE with group-name, group-id, description or owner-id narrows the list; a cloud "
     "administrator sees every account's groups with the word verbose among the GROUPs. Prints "
     "each group and its ingress rules:\n\n"
     "  GROUP\\tsg-id\\towner\\tname\\tdescription\\tvpc\n"
     "  PERMISSION\\towner\\tname\\tALLOWS\\tprotocol\\tfrom\\tto\\tFROM\\tCIDR\\tcidr\\tingress\n"
     "  PERMISSION\\towner\\tname\\tALLOWS\\tprotocol\\tfrom\\tto\\tFROM\\tUSER\\taccount\\tNAME\\tgroup\\tID\\tsg-id\\tingress\n\n"
     "See euca-create-group(1) for what groups mean in each network mode.",
     {},
     &SetupDescribeGroups},
    {"authorize",
     "allow traffic into a security group",
     "Adds an ingress rule to GROUP (name or sg-id): traffic of protocol -P (tcp, the default; "
     "udp; icmp; -1 or all for every protocol) to ports -p (PORT or FROM-TO, required for tcp "
     "and udp; -1 means 1-65535) or of ICMP -t TYPE:CODE (default -1:-1, any) may enter the "
     "group's instances from the addresses -s CIDR (repeatable; default 0.0.0.0/0) or from the "
     "members of the source group -o GROUP (of the account -u, default yours). In the MANAGED "
     "modes the rule reaches running instances within seconds, without restarting them; in "
     "SYSTEM and STATIC rules are kept but not enforced. An identical rule already there is "
     "InvalidPermission.Duplicate (exit status 4). Prints:\n\n"
     "  GROUP\\tgroup\n"
     "  PERMISSION\\tgroup\\tALLOWS\\tprotocol\\tfrom\\tto[\\tUSER\\taccount][\\tNAME\\tgroup][\\tFROM\\tCIDR\\tcidr]\n\n"
     "The access key flags are -A/-I and -S (-s is the CIDR here, as in euca2ools).",
     {},
     &SetupAuthorize},
    {"revoke",
     "remove a rule from a security group",
     "Removes the ingress rule given as euca-authorize(1) gives it (same flags and defaults) from "
     "GROUP; traffic it allowed stops within seconds. A rule that is not there is "
     "InvalidPermission.NotFound (exit status 3). Prints what it removed, as euca-authorize does.",
     {},
     &SetupRevoke},
    {"allocate-address",
     "allocate a public address",
     "Takes the first free address of the cloud property network.public-ips for your account. "
     "Public addresses exist only in the MANAGED modes (see euca-create-group(1)); in SYSTEM and "
     "STATIC the request is refused (exit status 2). None free is AddressLimitExceeded (exit "
     "status 8). With --lease DURATION (30m, 6h, 7d or none; EC2 parameter EucaLease) or the "
     "account's default address lease (euca admin modify-account --address-lease), euca admin "
     "cleanup releases the address once the lease ends. Prints:\n\n"
     "  ADDRESS\\tip\\tstandard\\tallocation-id\n\n"
     "followed, for an address with a lease, by\n\n"
     "  TAG\\taddress\\tip\\teuca:lease-expires\\tTIME",
     {},
     &SetupAllocateAddress},
    {"associate-address",
     "give an instance a public address",
     "Associates your public address IP with your pending or running instance -i: traffic to IP "
     "reaches the instance (DNAT) and the instance's outbound traffic leaves from IP (SNAT). An "
     "address on another instance moves; an address the instance had lets go (one it got at "
     "launch goes back to the pool). Prints:\n\n"
     "  ADDRESS\\tip\\tinstance",
     {},
     &SetupAssociateAddress},
    {"disassociate-address",
     "take a public address off its instance",
     "Takes your public address IP off its instance; the address stays allocated to your "
     "account (one given at launch goes back to the pool). Prints:\n\n"
     "  ADDRESS\\tip",
     {},
     &SetupDisassociateAddress},
    {"release-address",
     "give a public address back",
     "Disassociates your public address IP if needed and returns it to the pool "
     "(network.public-ips). Prints:\n\n"
     "  ADDRESS\\tip\\tallocation-id",
     {},
     &SetupReleaseAddress},
    {"describe-addresses",
     "list public addresses",
     "Lists your account's public addresses (only the IPs named, when given; one not yours is "
     "exit status 3) and the instances they are associated with; --filter public-ip, "
     "instance-id or domain narrows the list; a cloud administrator sees every account's with "
     "the word verbose. Addresses given at launch are listed while their instance lives. "
     "Prints:\n\n"
     "  ADDRESS\\tip\\tinstance\\tdomain\\tallocation-id\\tassociation-id\\tinterface\\tprivate-ip\n\n"
     "An address with a lease (see euca-allocate-address(1)) is followed by\n\n"
     "  TAG\\taddress\\tip\\teuca:lease-expires\\tTIME",
     {},
     &SetupDescribeAddresses},
    {"run-instances",
     "start instances of an image",
     "Starts instances of the machine image IMAGE (emi-...): -n MIN or MIN-MAX of them (default "
     "1), as many as fit up to MAX, or none when fewer than MIN fit (exit status 8, "
     "InsufficientInstanceCapacity). -t picks the VM type (default m1.small; \"euca admin "
     "describe-vm-types\" lists them), -k a key pair of your account whose public key the "
     "instances get, -g security groups (repeatable; default \"default\"), -d or -f user data "
     "(at most 16 KiB), --kernel and --ramdisk override the image's. -z names an availability "
     "zone or a placement rule: any (the emptiest zone first, overflowing into others; the "
     "default), single (one zone that holds them all) or spread (evenly across zones). "
     "--client-token makes the call idempotent: the same token from the same account answers "
     "the first reservation again and starts nothing; the same token with other parameters "
     "(image, type, key, count, zone, groups, user data, kernel, ramdisk) is refused "
     "(IdempotentParameterMismatch).\n\n"
     "The instances are reserved, recorded and started together: if any cannot start, none "
     "keeps running and their records show terminated with the reason. Prints the reservation "
     "and its instances as euca2ools 3 does (32 fields after INSTANCE):\n\n"
     "  RESERVATION\\treservation-id\\towner\\tgroups\n"
     "  INSTANCE\\tid\\timage\\tpublic-ip\\tprivate-ip\\tstate\\tkey\\tlaunch-index\\tproduct-codes\\ttype\\t"
     "launch-time\\tzone\\tkernel\\tramdisk\\tplatform\\tmonitoring\\tip\\tprivate-ip\\tvpc\\tsubnet\\t"
     "root-device-type\\tlifecycle\\tspot\\tlicense\\tplacement-group\\tvirtualization\\thypervisor\\t"
     "client-token\\tgroup-ids\\ttenancy\\tebs-optimized\\tiam-profile\\tarchitecture\n\n"
     "Runs in the cloud of EUCA_HOME, or against EC2_URL (-U) when set.",
     {},
     &SetupRunInstances},
    {"describe-instances",
     "list instances and their states",
     "Lists your account's instances (only INSTANCEs when given; an id that is not yours is "
     "unknown, exit status 3), grouped by reservation, with the states the clusters report: "
     "pending, running, shutting-down, terminated. Terminated instances stay listed for "
     "cloud.terminated-visible-seconds (default an hour). --filter NAME=VALUE keeps the "
     "matching ones (instance-id, instance-state-name, availability-zone, image-id, key-name, "
     "instance-type, reservation-id, owner-id; * and ? are wildcards). A cloud administrator "
     "sees every account's instances with the word verbose among the INSTANCEs. Prints "
     "RESERVATION and INSTANCE records as run-instances does.",
     {},
     &SetupDescribeInstances},
    {"terminate-instances",
     "terminate instances",
     "Terminates the INSTANCEs. Every id is checked first: an unknown one (or another "
     "account's) fails the whole call (exit status 3) and nothing is terminated. Prints each "
     "instance's state before and after:\n\n"
     "  INSTANCE\\tid\\tprevious-state\\tcurrent-state\n\n"
     "Terminating a terminated instance prints terminated twice.",
     {},
     &SetupTerminateInstances},
    {"reboot-instances",
     "reboot instances",
     "Asks the nodes to reboot the INSTANCEs (an unknown id: exit status 3; a terminated or "
     "shutting-down instance: exit status 5). Prints nothing.",
     {},
     &SetupRebootInstances},
    {"get-console-output",
     "show the console output of an instance",
     "Prints the instance id, the time of the output, and the last 64 KiB of the instance's "
     "serial console. Control characters are shown as ^@ ^A ... ^? unless -r.",
     {},
     &SetupGetConsoleOutput},
    {"describe-availability-zones",
     "list the availability zones",
     "Lists the availability zones (each a cluster; ZONEs only, when given) and whether their "
     "cluster controller answers:\n\n"
     "  AVAILABILITYZONE\\tname\\tavailable|unavailable\\tmessages\n\n"
     "For a cloud administrator, the word verbose among the ZONEs adds Eucalyptus' listing of "
     "each zone's room per VM type, from its cluster controller:\n\n"
     "  AVAILABILITYZONE\\t|- vm types\\tfree / max   cpu   ram  disk\n"
     "  AVAILABILITYZONE\\t|- m1.small\\t0004 / 0008   1    256     5",
     {},
     &SetupDescribeAvailabilityZones},
    {"register",
     "register an uploaded bundle as an image",
     "Registers the bundle whose manifest is MANIFEST (BUCKET/PREFIX.manifest.xml, as "
     "upload-bundle printed it) as an image of your account. The manifest must exist in Walrus "
     "and be readable by you; its image type gives the id: emi- (machine), eki- (kernel, bundled "
     "with --kernel true), eri- (ramdisk). -n names the image (default: MANIFEST without "
     ".manifest.xml); names are unique in an account. -a overrides the manifest's architecture; "
     "--kernel and --ramdisk give a machine image a default kernel and ramdisk, which must be "
     "kernel and ramdisk images you may launch. Prints:\n\n"
     "  IMAGE\\tid",
     {},
     &SetupRegister},
    {"deregister",
     "deregister an image",
     "Marks the image IMAGE of your account deregistered: it can no longer be launched, leaves "
     "listings (asked for by id it still shows, in state deregistered) and its name is free "
     "again. Deregistering it a second time removes its record. The bundle stays in Walrus. "
     "Prints:\n\n"
     "  IMAGE\\tid",
     {},
     &SetupDeregister},
    {"describe-images",
     "list images",
     "Lists images, by default yours and those whose launch permission names your account; -a "
     "adds public images; IMAGE arguments, -o ACCOUNT (self: yours) and -x ACCOUNT (self, or all "
     "for public images) select instead. Another account's private image does not exist for you "
     "(InvalidAMIID.NotFound). --filter takes image-id, image-type, name, description, state, "
     "architecture, owner-id, is-public, kernel-id, ramdisk-id, manifest-location. One line per "
     "image:\n\n"
     "  IMAGE\\tid\\tlocation\\towner\\tstate\\tpublic|private\\tarchitecture\\ttype\\tkernel"
     "\\tramdisk\\tplatform\\troot-device-type\\tvirtualization-type\\thypervisor",
     {},
     &SetupDescribeImages},
    {"describe-image-attribute",
     "show an attribute of one of your images",
     "Shows one attribute of your image IMAGE: -l its launch permissions, one line each,\n\n"
     "  launchPermission\\tid\\tgroup\\tall\n"
     "  launchPermission\\tid\\tuserId\\tACCOUNT\n\n"
     "or --description, --kernel, --ramdisk: \"ATTRIBUTE\\tid\\tvalue\".",
     {},
     &SetupDescribeImageAttribute},
    {"modify-image-attribute",
     "share an image or change its description",
     "Changes your image IMAGE: -l with -a ACCOUNT grants launch permission to that account (-a "
     "all makes the image public), with -r ACCOUNT revokes it (-r all makes it private again); "
     "--description sets the description. Accounts must exist. Prints:\n\n"
     "  IMAGE\\tid",
     {},
     &SetupModifyImageAttribute},

    {"serve walrus",
     "run Walrus, the S3-compatible object store, in the foreground",
     "Serves the S3 REST API of the cloud in EUCA_HOME on --listen (default 127.0.0.1:8780; port 0 "
     "picks a free port): buckets and objects live in EUCA_HOME/walrus, requests are checked "
     "against the access keys of the cloud's users (SigV4, including presigned URLs and "
     "aws-chunked uploads, and SigV2); requests without a signature are anonymous and get only "
     "what ACLs grant to everyone. Paths may be path style (/BUCKET/KEY), carry the Eucalyptus "
     "prefixes /services/objectstorage or /services/Walrus, or, for each --domain, name the "
     "bucket in the host (BUCKET.DOMAIN).\n\n"
     "On the same listener, /_euca/image?manifest=BUCKET/KEY gives node and cluster controllers "
     "the raw image of an uploaded bundle, in requests signed with their component keys: the "
     "manifest's signature and every part's digest are checked, the image is decrypted with the "
     "cloud's key and kept in EUCA_HOME/walrus/image-cache, at most walrus.image-cache-bytes "
     "bytes (least recently used images go first).\n\n"
     "Prints, once it accepts connections:\n\n"
     "  walrus listening on http://ADDR:PORT\n\n"
     "and runs until SIGTERM or SIGINT, then stops accepting, lets requests in flight finish "
     "for up to 5 seconds, and exits with status 0.",
     {},
     &SetupServeWalrus},

    {"serve clc",
     "run the cloud controller (EC2 Query API) in the foreground",
     "Serves the EC2 Query API of the cloud in EUCA_HOME on --listen (default 127.0.0.1:8773; port "
     "0 picks a free port), at /, /services/compute and /services/Eucalyptus, so that the AWS "
     "CLI, boto3, euca2ools and the euca-* commands with EC2_URL reach it. Requests must be "
     "signed with a user's access key (SigV4, or SigV2 Query signatures); an unknown key or a "
     "disabled user gets AuthFailure, a request more than 15 minutes off the server's clock "
     "RequestExpired. Image manifests are read from EUCA_HOME/walrus.\n\n"
     "Prints, once it accepts connections:\n\n"
     "  clc listening on http://ADDR:PORT\n\n"
     "and runs until SIGTERM or SIGINT.",
     {},
     &SetupServeClc},

    {"serve nc",
     "run a node controller in the foreground",
     "Runs the node controller of this host: it starts, inspects and stops the VMs of the "
     "cloud's instances through the hypervisor (--hypervisor, else the cloud's nc.hypervisor, "
     "else qemu:///system; --accel, else nc.accel), keeps a cache of raw images fetched from "
     "Walrus (--walrus-url, else services.s3-url) or from file:// locations, and gives each "
     "instance a qcow2 overlay on its cached image, an ephemeral disk, swap and a NoCloud seed "
     "(label cidata) with its key and user data. Instances and the cache live under --root "
     "(default EUCA_HOME/nc).\n\n"
     "Serves the internal API (POST /nc/runInstance, describeInstances, terminateInstance, "
     "rebootInstance, describeResource, getConsoleOutput, startNetwork; JSON) on --listen "
     "(default 127.0.0.1:8775) to cluster and cloud controllers whose requests are signed with "
     "their component keys; it reads its own keys and the cloud CA from EUCA_HOME/keys.\n\n"
     "On start it re-adopts the running VMs it started before and cleans up after those that "
     "died meanwhile. Prints, once it accepts connections:\n\n"
     "  nc listening on http://ADDR:PORT\n\n"
     "and runs until SIGTERM or SIGINT; running VMs keep running.",
     {},
     &SetupServeNc},

    {"serve cc",
     "run a cluster controller in the foreground",
     "Runs the cluster controller of one cluster (availability zone): it polls its node "
     "controllers (--node, repeatable, and the list the cloud controller sends with setNodes) "
     "every --poll-seconds (default 6) for their instances and free capacity, places each new "
     "instance on a node by --policy, and passes terminate, reboot and console requests to the "
     "node an instance runs on. Policies: greedy (the first node, in registration order, with "
     "room), roundrobin (the next node with room after the one used last), pack (the fullest "
     "node with room), spread (the emptiest node). Concurrent requests never over-commit a "
     "node: instances placed but not yet seen in a poll count against it. A node that does "
     "not answer a poll is down: its capacity counts as zero until it answers again.\n\n"
     "Serves the internal API (POST /cc/runInstances, describeInstances, terminateInstances, "
     "rebootInstances, getConsoleOutput, describeResources, describeNodes, setNodes, poll; "
     "JSON) on --listen (default 127.0.0.1:8774) to the cloud controller, whose requests are "
     "signed with the cloud's key; it calls its nodes signed with its own component key, and "
     "reads its keys and the cloud CA from EUCA_HOME/keys. Prints, once it accepts "
     "connections:\n\n"
     "  cc listening on http://ADDR:PORT\n\n"
     "and runs until SIGTERM or SIGINT; instances keep running on their nodes.",
     {},
     &SetupServeCc},

    {"admin describe-rules",
     "list the SLA rules",
     "Prints the SLA rules (all, or those NAMEd; an unknown NAME is an error, exit status 3) in "
     "name order, the order in which they fire:\n\n"
     "  RULE\\tname\\tkind\\taccount\\tuser\\tzone\\ttype\\tparameters\\taction\n\n"
     "where * matches anything and parameters are KEY=VALUE pairs (scope=user limit=4, "
     "duration=6h, policy=spread). With --as-file the rules are printed in the rule file format "
     "instead, ready to edit and give back to put-rule. The rule kinds and the file format are "
     "described in docs/sla.md and under put-rule.",
     {},
     &SetupDescribeRules},
    {"admin put-rule",
     "add or replace SLA rules from a rule file",
     "Reads the rule file FILE, one or more sections of KEY = VALUE lines ('#' starts a "
     "comment):\n\n"
     "  [rule four-per-user]\n"
     "  kind = instance-limit\n"
     "  scope = user\n"
     "  limit = 4\n\n"
     "  [rule six-hours]\n"
     "  kind = max-runtime\n"
     "  duration = 6h\n"
     "  match.account = students\n\n"
     "Kinds: instance-limit, core-limit and memory-limit (scope user or account, limit; "
     "RunInstances beyond the limit is refused with InstanceLimitExceeded or VcpuLimitExceeded, "
     "exit status 8, or gets fewer instances when MinCount still fits), max-runtime (duration; "
     "euca admin cleanup terminates instances that ran longer), zone-policy (policy any, "
     "emptiest, single with zone = NAME, or spread: where a request that names no zone goes), "
     "storage-quota and address-quota (limit per account), release-on-terminate (the "
     "addresses of an instance that reached terminated are released) and network-guard "
     "(changes of network.* properties are refused, exit status 5, while matching instances "
     "run). match.account, match.user, "
     "match.zone and match.type narrow a rule; absent, they match anything. Every rule of the "
     "file is checked first: an error names the line and the key (exit status 2) and nothing "
     "changes. A rule of the same name is replaced. All rules of the file are one history "
     "commit. Prints the rules as describe-rules does.",
     {},
     &SetupPutRule},
    {"admin delete-rule",
     "delete an SLA rule",
     "Deletes the rule NAME (an unknown NAME is an error, exit status 3) as one history commit. "
     "Prints:\n\n"
     "  RULE\\tname\\tdeleted",
     {},
     &SetupDeleteRule},
    {"admin modify-account",
     "change an account's default leases",
     "Sets the default runtime lease (--runtime-lease: how long the account's new instances may "
     "run before euca admin cleanup terminates them) and storage lease (--storage-lease: how "
     "long its newly registered images stay before they expire) and address lease "
     "(--address-lease: how long its newly allocated public addresses stay before euca admin "
     "cleanup releases them) of the account NAME. DURATION "
     "is 30m, 6h, 7d (also 45s) or none (no expiry, the default). Existing instances, images "
     "and addresses keep their leases (euca renew-lease changes one). One history commit. "
     "Prints:\n\n"
     "  ACCOUNT\\tname\\tid\\truntime-lease: DURATION\\tstorage-lease: DURATION\n\n"
     "and, when the account has an address lease, a last field address-lease: DURATION.",
     {},
     &SetupModifyAccount},
    {"admin cleanup",
     "act on everything expired: leases, maximum runtimes, expired images, address leases",
     "Acts on what is due at --now (ISO 8601; default: now): terminates instances whose runtime "
     "lease ended or that ran longer than a max-runtime rule allows; marks images whose storage "
     "lease ended expired (they can no longer be launched; euca renew-lease makes them "
     "available again); and for expired images whose grace (the property "
     "cloud.storage-lease-grace, default 7d) is over too, deletes their bundle (manifest and "
     "parts) from Walrus and deregisters them; deletes the bundles no image is registered "
     "from whose storage lease (counted from the manifest's upload) and grace are over "
     "(counted as \"deleted N bundles\" when there are any); disassociates and releases public addresses "
     "whose lease ended (counted as \"released N addresses\" when there are any). Each action "
     "is one history commit by the principal cleanup. Running it again acts on nothing new: it is idempotent. --dry-run "
     "reports what is due and changes nothing. Only a cloud administrator may run it.\n\n"
     "Prints one summary line, e.g.\n\n"
     "  cleanup: terminated 2 instances, expired 1 image, deleted 0 images, 0 failed\n\n"
     "or \"cleanup: nothing to do\"; --verbose prints an ACTION line per action before it, and "
     "failed actions always get one:\n\n"
     "  ACTION\\taction\\tid\\towner\\tresult\\treason\\terror\n\n"
     "Unlike the other admin commands it runs against the cloud controller at EC2_URL (-U) when "
     "one is set (EC2 action EucaCleanup), else in the cloud of EUCA_HOME.\n\n"
     "# Running from cron\n\n"
     "Run it every few minutes as the cloud's administrator, e.g. in root's crontab for a cloud "
     "in /var/lib/euca:\n\n"
     "  */5 * * * * EUCA_HOME=/var/lib/euca euca admin cleanup\n\n"
     "Only one cleanup runs at a time per cloud (a lock on EUCA_HOME/cleanup.lock, also held "
     "by euca serve clc while it cleans up): when cron starts a second one while the first "
     "still works, the second does nothing, prints \"cleanup: another cleanup is running; this "
     "one did nothing\" and exits 0. Exit status: 0 when everything due was done (or nothing "
     "was due, or another cleanup was running); 10 when some actions failed (a cluster or "
     "Walrus did not answer; the summary counts them, the ACTION lines say why, the next run "
     "retries them); any other non-zero status when it could not run at all (see EXIT STATUS "
     "in euca(1): 2 for a bad --now, 6 when not an administrator, 3 when there is no cloud).",
     {},
     &SetupCleanup},
    {"describe-leases",
     "list the leases of your instances, images and addresses",
     "Lists the runtime leases of your instances, the storage leases of your images and the "
     "leases of your public addresses (a cloud administrator: everyone's), or only of the IDs "
     "given (instance ids, image ids, public addresses; an ID that is not yours is an error, "
     "exit status 3):\n\n"
     "  LEASE\\tid\\tinstance|image|address\\towner\\tstate\\texpires\n\n"
     "where expires is an ISO 8601 time, or none, and the state of an address is allocated or "
     "associated. The same time shows in describe-instances, describe-images and "
     "describe-addresses output as the tag euca:lease-expires. Runs in the cloud of "
     "EUCA_HOME, or against EC2_URL (-U) when set (EC2 action EucaDescribeLeases).",
     {},
     &SetupDescribeLeases},
    {"renew-lease",
     "renew the lease of an instance, image or address",
     "Sets the lease of the instance, image or public address ID (yours, or any for a cloud "
     "administrator) to "
     "end DURATION from now (--for 30m, 6h, 7d; none removes the lease), by default the "
     "account's default lease (euca admin modify-account). An expired image becomes available "
     "again. One history commit. Prints the lease as describe-leases does.",
     {},
     &SetupRenewLease},
    {"create-capacity-reservation",
     "reserve room for instances in a zone, optionally until a date",
     "Reserves room for -n instances of the type -t in the zone -z for your account (EC2 "
     "CreateCapacityReservation). Matching is EC2's open: your pending and running instances "
     "of that type in that zone use the reservation first; what they leave unused is held away "
     "from every other launch, so other accounts get InsufficientInstanceCapacity (exit status "
     "8) when only reserved room is left. A reservation that does not fit the zone's free room "
     "is refused the same way. Without --end-date it lasts until cancelled "
     "(euca-cancel-capacity-reservation(1)); with --end-date TIME (ISO 8601; end date type "
     "limited) euca admin cleanup marks it expired once TIME passed, and its room is free again "
     "(it holds nothing from TIME on). One history commit. Prints:\n\n"
     "  CAPACITYRESERVATION\\tid\\towner\\ttype\\tzone\\ttotal\\tavailable\\tstate\\t"
     "end-date-type\\tend-date\\tmatch-criteria\\tcreated\n\n"
     "where available is how many of total your instances leave unused, state is active, "
     "expired or cancelled, and end-date is an ISO 8601 time or none.",
     {},
     &SetupCreateCapacityReservation},
    {"describe-capacity-reservations",
     "list capacity reservations",
     "Lists your account's capacity reservations (only the IDs named, when given; one not "
     "yours is exit status 3), oldest first, as euca-create-capacity-reservation(1) prints "
     "them; --filter instance-type, availability-zone, state, owner-id, end-date-type or "
     "capacity-reservation-id narrows the list; a cloud administrator sees every account's with "
     "the word verbose.",
     {},
     &SetupDescribeCapacityReservations},
    {"cancel-capacity-reservation",
     "cancel a capacity reservation",
     "Cancels your active capacity reservation ID: its room is free at once. A reservation that "
     "is not active (cancelled or expired) is exit status 5; one that is not yours, 3. One "
     "history commit. Prints:\n\n"
     "  CAPACITYRESERVATION\\tid\\tcancelled",
     {},
     &SetupCancelCapacityReservation},

    {"__symlinks", "create euca-* program links in DIR", "", {}, &SetupSymlinks, true},
    {"__man", "write the man pages into DIR", "", {}, &SetupManPages, true},
    {"__completions", "print the bash or zsh completion script", "", {}, &SetupCompletions, true},
};

const std::vector<GroupSpec> kGroups = {
    {"admin", "administer the cloud in EUCA_HOME: accounts, users, properties, history"},
    {"serve", "run a cloud service in the foreground"},
};

/// Edit distance with adjacent transpositions counted as one edit (optimal string
/// alignment), so "inti" is one edit from "init".
size_t Osa(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::string Dashed(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), ' ', '-');
  return s;
}

}  // namespace

std::vector<std::string> CommandWords(std::string_view name) {
  std::vector<std::string> words;
  size_t start = 0;
  while (start <= name.size()) {
    size_t sp = name.find(' ', start);
    if (sp == std::string_view::npos) sp = name.size();
    if (sp > start) words.emplace_back(name.substr(start, sp - start));
    start = sp + 1;
  }
  return words;
}

const std::vector<CommandSpec>& Commands() { return kCommands; }
const std::vector<GroupSpec>& Groups() { return kGroups; }

const CommandSpec* FindCommand(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

const GroupSpec* FindGroup(std::string_view name) {
  for (const auto& g : kGroups)
    if (g.name == name) return &g;
  return nullptr;
}

std::string ProgramName(std::string_view command_name) { return "euca-" + Dashed(command_name); }

std::optional<std::vector<std::string>> CommandWordsForProgram(std::string_view program) {
  for (const auto& c : kCommands) {
    if (c.hidden) continue;
    bool match = ProgramName(c.name) == program;
    for (auto alias : c.aliases) match = match || alias == program;
    if (match) return CommandWords(c.name);
  }
  return std::nullopt;
}

const CommandSpec* ResolveCommandName(std::string_view typed) {
  std::string dashed = Dashed(typed);
  for (const auto& c : kCommands) {
    if (c.hidden) continue;
    if (c.name == typed || Dashed(c.name) == dashed || ProgramName(c.name) == dashed) return &c;
    for (auto alias : c.aliases)
      if (alias == dashed) return &c;
  }
  return nullptr;
}

size_t EditDistance(std::string_view a, std::string_view b) { return Osa(a, b); }

std::optional<std::string> SuggestCommand(std::string_view typed) {
  if (typed.empty()) return std::nullopt;
  const bool single_word = typed.find(' ') == std::string_view::npos;
  size_t best = std::numeric_limits<size_t>::max();
  std::string best_name;
  auto consider = [&](std::string_view candidate, std::string_view full_name) {
    size_t d = Osa(typed, candidate);
    // A unique-looking prefix ("describe-acc") is as good as one edit.
    if (typed.size() >= 3 && candidate.substr(0, typed.size()) == typed) d = std::min<size_t>(d, 1);
    if (d < best) {
      best = d;
      best_name = std::string(full_name);
    }
  };
  for (const auto& c : kCommands) {
    if (c.hidden) continue;
    consider(c.name, c.name);
    consider(Dashed(c.name), c.name);
    if (single_word) {
      auto sp = c.name.rfind(' ');
      if (sp != std::string_view::npos) consider(c.name.substr(sp + 1), c.name);
    }
  }
  for (const auto& g : kGroups) consider(g.name, g.name);
  const size_t limit = std::max<size_t>(2, typed.size() / 3);
  if (best > limit || best >= typed.size()) return std::nullopt;
  return best_name;
}

std::vector<std::string> NextWords(std::string_view prefix) {
  std::vector<std::string> out;
  auto add = [&](std::string w) {
    if (std::find(out.begin(), out.end(), w) == out.end()) out.push_back(std::move(w));
  };
  std::vector<std::string> pre = CommandWords(prefix);
  for (const auto& c : kCommands) {
    if (c.hidden) continue;
    std::vector<std::string> words = CommandWords(c.name);
    if (words.size() <= pre.size()) continue;
    if (!std::equal(pre.begin(), pre.end(), words.begin())) continue;
    add(words[pre.size()]);
  }
  return out;
}

}  // namespace euca::cmd
