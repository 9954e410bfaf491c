locals {
  name       = basename(path.cwd)
  local_aws  = var.local_aws_endpoint != null
  aws_config = local.local_aws ? [var.local_aws_endpoint] : []
}

module "credentials" {
  source = "../../modules/aws-credentials"

  vault_address = var.vault_address
  role          = var.vault_role
  ttl           = var.ttl
}

# Static STS keys: read once at plan time, stored in state, never refreshed. Fine for
# applies shorter than the TTL; see examples/long-apply for the refreshable way.
provider "aws" {
  region     = var.region
  access_key = module.credentials.access_key
  secret_key = module.credentials.secret_key
  token      = module.credentials.security_token

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
