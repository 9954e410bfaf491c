# /etc/vaultlet/vaultlet.hcl for the systemd unit beside this file.
storage "sqlite" { path = "/var/lib/vaultlet/vaultlet.db" }
# Several hosts on one database instead (connection_url may also come from
# VAULTLET_PG_CONNECTION_URL in /etc/vaultlet/vaultlet.env):
# storage "postgresql" { connection_url = "postgresql://vaultlet@db.internal/vaultlet" }

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/etc/vaultlet/tls.crt"
  tls_key_file  = "/etc/vaultlet/tls.key"
}

# Auto-unseal: the root key is stored KMS-encrypted in the database; the host's
# instance role (boto3's default chain) needs kms:Encrypt and kms:Decrypt on the key.
seal "awskms" {
  region     = "us-east-1"
  kms_key_id = "alias/vaultlet-seal"
}
# Or a key file, written by `operator init` (keep it on another disk than the database;
# the unit's StateDirectory is writable, /etc is not):
# seal "file" { path = "/var/lib/vaultlet/seal.key" }

workers = 2
threads = 16
