locals {
  name       = basename(path.cwd)
  local_aws  = var.local_aws_endpoint != null
  aws_config = local.local_aws ? [var.local_aws_endpoint] : []
}

# The provider creates its own child token from VAULT_TOKEN and revokes it when
# Terraform stops it.
provider "vaultlet" {
  address = var.vault_address
}

# Opened in every phase (plan, and again at apply): a saved plan applies with fresh keys.
# Never written to the state or the plan file; renewed while Terraform runs (IAM users),
# revoked when Terraform is done with it.
ephemeral "vaultlet_aws_credentials" "deploy" {
  mount = var.mount
  role  = var.vault_role
}

provider "aws" {
  region     = var.region
  access_key = ephemeral.vaultlet_aws_credentials.deploy.access_key
  secret_key = ephemeral.vaultlet_aws_credentials.deploy.secret_key
  token      = ephemeral.vaultlet_aws_credentials.deploy.security_token

  # Only a local stand-in needs these: it has no EC2 platforms, metadata API or real regions.
  skip_credentials_validation = local.local_aws
  skip_get_ec2_platforms      = local.local_aws
  skip_metadata_api_check     = local.local_aws
  skip_region_validation      = local.local_aws
  skip_requesting_account_id  = local.local_aws
  s3_force_path_style         = local.local_aws

  dynamic "endpoints" {
    for_each = local.aws_config

    content {
      iam = endpoints.value
      s3  = endpoints.value
      sts = endpoints.value
    }
  }
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "this" {
  bucket_prefix = "vaultlet-${local.name}-"
  force_destroy = true

  tags = {
    Example   = local.name
    CreatedBy = data.aws_caller_identity.current.arn
  }
}

# Stands in for a resource that takes longer than the credentials' lease.
resource "terraform_data" "pause" {
  count = var.pause_seconds > 0 ? 1 : 0

  triggers_replace = [aws_s3_bucket.this.id]

  provisioner "local-exec" {
    command = "sleep ${var.pause_seconds}"
  }
}

resource "aws_s3_bucket" "after_pause" {
  count = var.pause_seconds > 0 ? 1 : 0

  bucket_prefix = "vaultlet-${local.name}-after-"
  force_destroy = true

  depends_on = [terraform_data.pause]
}
