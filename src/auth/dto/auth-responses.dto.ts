import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROLES, SCOPES } from '../../common/auth/scopes';
import { ProblemDto } from '../../common/http/problem.dto';

export class TokenPairResponse {
  @ApiProperty({ description: 'HS256 JWT, sent as Authorization: Bearer' })
  accessToken: string;

  @ApiProperty({ description: 'Single use: POST /auth/refresh trades it for a new pair' })
  refreshToken: string;

  @ApiProperty({ enum: ['Bearer'] })
  tokenType: 'Bearer';

  @ApiProperty({ example: 900, description: 'Seconds the access token lives' })
  expiresIn: number;
}

export class MeUserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'email' })
  email: string;

  @ApiProperty({ enum: ROLES })
  role: string;

  @ApiProperty({ enum: ['invited', 'active', 'disabled'] })
  status: string;
}

export class MeTenantResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty()
  slug: string;
}

export class MeResponse {
  @ApiProperty({ enum: ['user', 'apiKey', 'admin'] })
  kind: string;

  @ApiProperty({ type: MeUserResponse, nullable: true, description: 'null for a service key' })
  user: MeUserResponse | null;

  @ApiProperty({ type: MeTenantResponse })
  tenant: MeTenantResponse;

  @ApiProperty({ enum: ROLES, nullable: true })
  role: string | null;

  @ApiProperty({ enum: SCOPES, isArray: true })
  scopes: string[];

  @ApiPropertyOptional({ format: 'uuid', description: 'Only when an API key calls' })
  apiKeyId?: string;
}

export class SessionResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: ['api', 'dashboard'] })
  kind: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  lastSeenAt: Date;

  @ApiProperty({ type: String, format: 'date-time' })
  expiresAt: Date;

  @ApiProperty({ type: String, nullable: true })
  ip: string | null;

  @ApiProperty({ type: String, nullable: true })
  userAgent: string | null;

  @ApiProperty({ description: 'The session making this request' })
  current: boolean;
}

export class MessageResponse {
  @ApiProperty()
  message: string;
}

export class TenantChoiceResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty()
  name: string;

  @ApiProperty({ enum: ROLES, description: 'The person’s role in that tenant' })
  role: string;
}

export class TenantRequiredDetails {
  @ApiProperty({ type: [TenantChoiceResponse], description: 'The tenants the person may sign in to' })
  tenants: TenantChoiceResponse[];
}

/** 409 TENANT_REQUIRED: the person belongs to several tenants and must name one. */
export class TenantRequiredProblem extends ProblemDto {
  @ApiProperty({ type: TenantRequiredDetails })
  declare details: TenantRequiredDetails;
}

export class MyTenantResponse extends TenantChoiceResponse {
  @ApiProperty({ description: 'The tenant of the calling session' })
  current: boolean;
}
