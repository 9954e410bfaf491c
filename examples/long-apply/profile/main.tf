# Step 1: render an AWS profile whose credential_process calls vaultlet. Nothing is read
# at plan time (create_credentials = false), so this state holds no secret either.
module "credentials" {
  source = "../../../modules/aws-credentials"

  create_credentials    = false
  vault_address         = var.vault_address
  role                  = var.vault_role
  ttl                   = var.ttl
  profile_name          = var.profile_name
  region                = var.region
  expiry_window_seconds = var.expiry_window_seconds
}

output "aws_config_profile" {
  description = "Append to ~/.aws/config, or write to a file named by AWS_CONFIG_FILE."
  value       = module.credentials.aws_config_profile
}
