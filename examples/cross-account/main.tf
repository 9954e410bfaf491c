locals {
  local_aws  = var.local_aws_endpoint != null
  aws_config = local.local_aws ? [var.local_aws_endpoint] : []
}

################################################################################
# Admin credentials in each target account, from vaultlet (short-lived, in state)
################################################################################

module "prod_credentials" {
  source = "../../modules/aws-credentials"

  vault_address = var.vault_address
  role          = var.accounts["prod"].bootstrap_vault_role
  ttl           = "15m"
}

module "dev_credentials" {
  source = "../../modules/aws-credentials"

  vault_address = var.vault_address
  role          = var.accounts["dev"].bootstrap_vault_role
  ttl           = "15m"
}

provider "aws" {
  alias = "prod"

  region     = var.region
  access_key = module.prod_credentials.access_key
  secret_key = module.prod_credentials.secret_key
  token      = module.prod_credentials.security_token

  skip_credentials_validation = local.local_aws
  skip_get_ec2_platforms      = local.local_aws
  skip_metadata_api_check     = local.local_aws
  skip_region_validation      = local.local_aws
  skip_requesting_account_id  = local.local_aws

  dynamic "endpoints" {
    for_each = local.aws_config

    content {
      iam = endpoints.value
      sts = endpoints.value
    }
  }
}

provider "aws" {
  alias = "dev"

  region     = var.region
  access_key = module.dev_credentials.access_key
  secret_key = module.dev_credentials.secret_key
  token      = module.dev_credentials.security_token

  skip_credentials_validation = local.local_aws
  skip_get_ec2_platforms      = local.local_aws
  skip_metadata_api_check     = local.local_aws
  skip_region_validation      = local.local_aws
  skip_requesting_account_id  = local.local_aws

  dynamic "endpoints" {
    for_each = local.aws_config

    content {
      iam = endpoints.value
      sts = endpoints.value
    }
  }
}

################################################################################
# The roles vaultlet assumes in each account, each behind its own external id
################################################################################

resource "aws_iam_policy" "prod_deploy_artifacts" {
  provider = aws.prod

  name        = "vault-prod-deploy-artifacts"
  description = "What a prod deployment may do: publish build artifacts"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:PutObject", "s3:GetObject", "s3:ListBucket"], Resource = ["arn:aws:s3:::prod-artifacts", "arn:aws:s3:::prod-artifacts/*"] }]
  })
}

module "prod_role" {
  source = "../../modules/aws-target-role"

  providers = {
    aws = aws.prod
  }

  name                   = "vault-prod-deploy"
  trusted_principal_arns = [var.broker_principal_arn]
  external_id            = var.accounts["prod"].external_id
  max_session_duration   = var.accounts["prod"].max_session_hours * 3600
  managed_policy_arns = {
    deploy_artifacts = aws_iam_policy.prod_deploy_artifacts.arn
  }

  tags = { Environment = "prod" }
}

module "dev_role" {
  source = "../../modules/aws-target-role"

  providers = {
    aws = aws.dev
  }

  name                   = "vault-dev-admin"
  trusted_principal_arns = [var.broker_principal_arn]
  external_id            = var.accounts["dev"].external_id
  max_session_duration   = var.accounts["dev"].max_session_hours * 3600
  inline_policies = {
    sandbox = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Allow", Action = ["s3:*", "dynamodb:*", "sqs:*"], Resource = "*" }]
    })
  }

  tags = { Environment = "dev" }
}
