import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsString, MaxLength } from 'class-validator';
import { normalizeEmail } from '../users/dto/users.dto';

export class BootstrapOperatorDto {
  @ApiProperty({ example: 'ops@example.com' })
  @Transform(normalizeEmail)
  @IsEmail()
  @MaxLength(254)
  email: string;

  @ApiProperty({ description: 'The operator signs in with it at /login, like everyone' })
  @IsString()
  @MaxLength(1024)
  password: string;
}

export class OperatorResponse {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ format: 'email' })
  email: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt: Date;
}
