locals {
  name       = basename(path.cwd)
  local_aws  = var.local_aws_endpoint != null
  aws_config = local.local_aws ? [var.local_aws_endpoint] : []
}

# Only a profile name here: the keys come from the profile's credential_process, are
# refreshed by the AWS SDK when they expire, and never reach the state or plan file.
provider "aws" {
  region  = var.region
  profile = var.aws_profile

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

resource "aws_s3_bucket" "before" {
  bucket_prefix = "vaultlet-${local.name}-before-"
  force_destroy = true
}

# Stands in for a resource that takes longer than the credentials live.
resource "terraform_data" "pause" {
  count = var.pause_seconds > 0 ? 1 : 0

  triggers_replace = [aws_s3_bucket.before.id]

  provisioner "local-exec" {
    command = "sleep ${var.pause_seconds}"
  }
}

resource "aws_s3_bucket" "after" {
  bucket_prefix = "vaultlet-${local.name}-after-"
  force_destroy = true

  depends_on = [terraform_data.pause]
}
