import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ACTOR_TYPES, OUTCOMES } from './audit.dto';

export class AuditActorResponse {
  @ApiProperty({ enum: ACTOR_TYPES })
  type: string;

  @ApiProperty({ type: String, nullable: true })
  id: string | null;
}

export class AuditTargetResponse {
  @ApiProperty({ example: 'api_key' })
  type: string;

  @ApiProperty({ type: String, nullable: true })
  id: string | null;
}

export class AuditEventResponse {
  @ApiProperty()
  id: string;

  @ApiProperty({ format: 'uuid' })
  tenantId: string;

  @ApiProperty({ description: 'Position in the tenant’s hash chain' })
  seq: number;

  @ApiProperty({ type: AuditActorResponse })
  actor: AuditActorResponse;

  @ApiProperty({ example: 'key.created' })
  action: string;

  @ApiProperty({ type: AuditTargetResponse, nullable: true })
  target: AuditTargetResponse | null;

  @ApiProperty({ enum: OUTCOMES })
  outcome: string;

  @ApiProperty({ type: String, nullable: true })
  reason: string | null;

  @ApiProperty({ type: String, nullable: true })
  ip: string | null;

  @ApiProperty({ type: String, nullable: true })
  userAgent: string | null;

  @ApiProperty({ type: String, nullable: true })
  requestId: string | null;

  @ApiProperty({ type: 'object', additionalProperties: true })
  metadata: Record<string, unknown>;

  @ApiProperty({ description: 'How many identical events this row stands for' })
  count: number;

  @ApiProperty({ type: String, format: 'date-time' })
  occurredAt: Date;

  @ApiProperty()
  prevHash: string;

  @ApiProperty()
  hash: string;
}

export class AuditEventPageResponse {
  @ApiProperty({ type: [AuditEventResponse] })
  items: AuditEventResponse[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `cursor` for the next (older) page' })
  nextCursor: string | null;
}

export class ChainVerificationResponse {
  @ApiProperty()
  valid: boolean;

  @ApiProperty({ description: 'Events checked' })
  checked: number;

  @ApiPropertyOptional()
  firstBrokenSeq?: number;

  @ApiPropertyOptional({ enum: ['SEQ_GAP', 'PREV_HASH_MISMATCH', 'HASH_MISMATCH'] })
  reason?: string;

  @ApiPropertyOptional({ description: 'Seq of the last pruned event, where verification started' })
  anchorSeq?: number;
}
