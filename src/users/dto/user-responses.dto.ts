import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ROLES } from '../../common/auth/scopes';

export class UserResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'uuid' })
  tenantId: string;

  @ApiProperty({ format: 'email' })
  email: string;

  @ApiProperty({ enum: ROLES })
  role: string;

  @ApiProperty({ enum: ['invited', 'active', 'disabled'] })
  status: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  lastLoginAt: Date | null;
}

export class CreatedUserResponse extends UserResponse {
  @ApiPropertyOptional({ description: 'Only for an invited user: the link that sets the password' })
  inviteUrl?: string;
}
